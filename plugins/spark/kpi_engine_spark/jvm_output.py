"""The Spark driver JVM's stderr, passed on without Java stack traces.

PySpark starts the driver JVM (``spark-submit``) with this process's stderr.
What goes wrong before Spark's logging is set up — a setting spark-submit
rejects, a cluster that does not answer — is printed there as a Java exception
with its stack trace, and PySpark only raises "Java gateway process exited".
While Spark starts, the JVM gets a pipe as stderr instead: a thread passes each
line on to the real stderr, except stack frames and the JVM's incubator-module
notice, and keeps the last lines, so that the error kpi reports can say *why*.
"""

from __future__ import annotations

import os
import re
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["JvmOutput", "filtered_stderr"]

_STACK = re.compile(r"^(\s+at |\s*\.\.\. \d+ more|Caused by: |\s*Suppressed: )")
_NOTICE = re.compile(r"^WARNING: Using incubator modules")
_UNCAUGHT = re.compile(r'^Exception in thread "[^"]*" (?:[\w$.]+\.)?[\w$]+(?:Exception|Error): (.*)$')
_LOGGED_ERROR = re.compile(r"^\S+ \S+ ERROR \w+: (.*)$")  # our log4j2 pattern: date time level logger: message


class JvmOutput:
    """The JVM's last stderr lines, read by a daemon thread for as long as the JVM writes."""

    def __init__(self, read_fd: int, target_fd: int) -> None:
        self._lines: deque[str] = deque(maxlen=100)
        self._read_fd = read_fd
        self._target_fd = target_fd
        self._thread = threading.Thread(target=self._forward, name="kpi-spark-stderr", daemon=True)
        self._thread.start()

    def _forward(self) -> None:
        pending = b""
        with os.fdopen(self._read_fd, "rb", buffering=0) as pipe:
            while chunk := pipe.read(65536):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    self._pass_on(line)
        if pending:
            self._pass_on(pending)
        os.close(self._target_fd)

    def _pass_on(self, raw: bytes) -> None:
        text = raw.decode("utf-8", "replace").rstrip("\r")
        self._lines.append(text)
        if _STACK.match(text) or _NOTICE.match(text) or _UNCAUGHT.match(text):
            return  # the exception's message is reported by kpi (see reason())
        try:
            os.write(self._target_fd, raw + b"\n")
        except OSError:  # stderr closed: nothing to show it on
            pass

    def reason(self, wait: float = 1.0) -> str | None:
        """Why the JVM failed, from what it printed: an uncaught exception or a logged error."""
        self._thread.join(wait)  # a JVM that exited has its last lines read once the pipe is drained
        for pattern in (_UNCAUGHT, _LOGGED_ERROR):
            for line in reversed(self._lines):
                found = pattern.match(line)
                if found:
                    return found.group(1).strip()
        # a JVM that could not start says why first ("Invalid maximum heap size: -Xmxlots")
        said = [line.strip() for line in self._lines if line.strip() and not _STACK.match(line)
                and not _NOTICE.match(line)]
        return said[0] if said else None


@contextmanager
def filtered_stderr() -> Iterator[JvmOutput]:
    """Inside the block, this process's stderr (fd 2) is the pipe: a JVM started here inherits it."""
    read_fd, write_fd = os.pipe()
    target_fd = os.dup(2)  # where the lines go, also after the block
    saved_fd = os.dup(2)
    output = JvmOutput(read_fd, target_fd)
    os.dup2(write_fd, 2)
    os.close(write_fd)
    try:
        yield output
    finally:
        os.dup2(saved_fd, 2)  # Python's own stderr is itself again; the JVM keeps the pipe
        os.close(saved_fd)
