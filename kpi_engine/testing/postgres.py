"""A throwaway PostgreSQL server for tests, started from the PostgreSQL server binaries of the machine.

:func:`start` initialises a data directory in a folder (when it is new), starts the server on
127.0.0.1 and returns a DSN; :func:`stop` stops it, after which the folder can be deleted.
initdb refuses to run as root, so as root the server runs as the ``postgres`` OS user (the
folder must then be one that user can enter: not under root's home). fsync is off: the data is
thrown away. Password authentication is on for TCP, so tests can check what a wrong password gives.

The binaries are found under ``/usr/lib/postgresql/<version>/bin`` (Debian, Ubuntu), else on
``PATH``. From a shell::

    python -m kpi_engine.testing.postgres start DIR [PORT]    # prints the DSN
    python -m kpi_engine.testing.postgres stop DIR

It imports only the standard library, so CI runs it as a script before anything is installed
(``python3 kpi_engine/testing/postgres.py start DIR PORT`` in ``.ci/run``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

__all__ = ["DATABASE", "PASSWORD", "ServerError", "start", "stop"]

#: The database, and the password of the ``postgres`` user, of every server started here.
DATABASE = "kpi_test"
PASSWORD = "kpi-test"


class ServerError(Exception):
    """The server could not be started or stopped; the message says why (the tool's last words)."""


def _bin() -> Path:
    """The folder of pg_ctl, initdb and psql: the newest Debian-style install, else the one on PATH."""

    def version(pg_ctl: Path) -> list[int]:
        return [int(n) for n in re.findall(r"\d+", pg_ctl.parent.parent.name)]

    installed = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=version)
    if installed:
        return installed[-1].parent
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).parent
    raise ServerError("PostgreSQL server binaries not found (pg_ctl and initdb under /usr/lib/postgresql/*/bin "
                      "or on PATH): install PostgreSQL's server package")


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _as_owner(command: list[str | Path]) -> list[str]:
    """The command run as the ``postgres`` user when we are root (initdb and the server refuse root)."""
    words = [str(word) for word in command]
    return ["runuser", "-u", "postgres", "--", *words] if _is_root() else words


def _run(command: list[str | Path], what: str, log: Path | None = None) -> str:
    done = subprocess.run(_as_owner(command), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        said = (log.read_text(errors="replace") if log and log.exists() else "") or done.stderr or done.stdout
        last = [line for line in said.strip().splitlines() if line.strip()][-3:]
        raise ServerError(f"{what} failed: {' | '.join(last) or f'exit status {done.returncode}'}")
    return done.stdout


def start(folder: Path, port: int) -> str:
    """Start a server with its data in ``folder`` (initialised if new) on 127.0.0.1:``port``; return its DSN."""
    binaries = _bin()
    folder.mkdir(parents=True, exist_ok=True)
    if _is_root():
        import pwd

        owner = pwd.getpwnam("postgres")
        os.chown(folder, owner.pw_uid, owner.pw_gid)
    data = folder / "data"
    if not (data / "PG_VERSION").exists():
        _run([binaries / "initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"],
             "initdb")
        (data / "pg_hba.conf").write_text("host all all 127.0.0.1/32 scram-sha-256\nlocal all all trust\n")
    options = (f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} "
               "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
    log = folder / "server.log"
    _run([binaries / "pg_ctl", "-D", data, "-l", log, "-w", "-t", "60", "-o", options, "start"], "pg_ctl start", log)
    psql = [binaries / "psql", "-h", folder, "-p", str(port), "-U", "postgres", "-d", "postgres", "-qAt"]
    _run([*psql, "-c", f"ALTER USER postgres PASSWORD '{PASSWORD}'"], "psql")
    if _run([*psql, "-c", f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"], "psql").strip() != "1":
        _run([binaries / "createdb", "-h", folder, "-p", str(port), "-U", "postgres", DATABASE], "createdb")
    return f"postgresql://postgres:{PASSWORD}@127.0.0.1:{port}/{DATABASE}"


def stop(folder: Path) -> None:
    """Stop the server of ``folder``, if it runs (its sessions are ended)."""
    data = folder / "data"
    if (data / "postmaster.pid").exists():
        _run([_bin() / "pg_ctl", "-D", data, "-m", "fast", "-w", "stop"], "pg_ctl stop")


def main(argv: list[str]) -> int:
    """``start DIR [PORT]`` prints the DSN; ``stop DIR``. Exit status 1 on failure, 2 on bad usage."""
    usage = "usage: python -m kpi_engine.testing.postgres start DIR [PORT] | stop DIR"
    if len(argv) not in (2, 3) or argv[0] not in ("start", "stop") or (argv[0] == "stop" and len(argv) == 3) \
            or (len(argv) == 3 and not argv[2].isdigit()):
        print(usage, file=sys.stderr)
        return 2
    try:
        if argv[0] == "start":
            print(start(Path(argv[1]), int(argv[2]) if len(argv) == 3 else 54329))
        else:
            stop(Path(argv[1]))
    except ServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
