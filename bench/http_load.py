"""kpi serve under load (a benchmark, not a test): a real server on the demo project, many clients at once.

    python bench/http_load.py                        # 2,000 mixed requests from 16 clients (about a minute)
    python bench/http_load.py --requests 500         # a quicker run
    python bench/http_load.py --minutes 10           # a soak: ever-new distinct queries, memory every 30 s

Starts ``kpi serve`` (one worker) on a loopback port, over the demo help-desk data (bench/data/http-<rows>/,
generated once), then:

1. one request at a time (the standard library's client, which adds little of its own): the p50 of a cached
   answer (and of the same with httpx), of an uncached one over HTTP, and of the same kind of query run in
   this process with ``project.query`` (the difference is what the HTTP layer adds);
2. ``--clients`` processes (httpx, keep-alive) sending ``--requests`` requests in all, mixed: cached (a few
   queries asked again and again), uncached (each a new ``from``/``where``) and bad (unknown KPI, bad
   ``where``, grain or date). Checked: no transport error, no 5xx, every answer's status and numbers equal
   to the single-request answer (cached and bad: the server's own answer to one request before the load;
   uncached: ``project.query`` in this process). Printed: p50/p99 latency per kind, requests per second and
   the server's peak memory (psutil when installed, else VmHWM of /proc/PID/status).

``--minutes N`` sends distinct queries for N minutes instead, printing the server's memory every 30 s: once
the result cache is full (256 results), memory must stay flat however many distinct queries follow.
Aims: HTTP adds at most 3 ms at p50 to ``project.query``; a cached answer under 2 ms at p50, and under 50 ms
at p99 with 16 clients; memory flat over 10 minutes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import http.client
import json
import multiprocessing
import os
import random
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import duckdb
import httpx

import kpi_engine
from kpi_engine.demo.command import PROJECT_FILE, library_path
from kpi_engine.demo.data import generate
from kpi_engine.live import RACY_SECONDS

HERE = Path(__file__).resolve().parent
KPIS = ["ticket_volume", "first_contact_resolution", "csat"]
CHANNELS = ["chat", "email", "phone", "web"]
PLANS = ["basic", "pro", "team"]
FIRST_DAY = dt.date(2024, 1, 1)
#: Queries asked again and again: after the first answer each comes from the cache.
CACHED = [
    {"kpi": ["ticket_volume"], "grain": "month"},
    {"kpi": ["csat", "nps"], "grain": "quarter", "by": ["channel"]},
    {"kpi": ["first_contact_resolution"], "grain": "week", "from": "2025-01-01", "to": "2025-06-30"},
    {"kpi": ["ticket_volume", "csat"], "grain": "year", "by": ["region"]},
    {"kpi": ["average_handle_time"], "grain": "month", "where": "plan = 'pro'"},
    {"kpi": ["complaint_rate"], "grain": "quarter", "status": "true"},
]
#: Bad requests, each answered with its 4xx.
BAD = [
    {"kpi": ["tickets_volume"]},
    {"kpi": ["csat"], "where": "chanel = 'email'"},
    {"kpi": ["csat"], "grain": "mnth"},
    {"kpi": ["csat"], "from": "2025-02-30"},
    {"kpi": ["csat"], "where": "channel = "},
]


# ================================================================== the project and the server
def demo_project(rows: int, data: Path) -> Path:
    """The demo project with ``rows`` tickets (its data generated once, then reused)."""
    root = data / f"http-{rows}"
    database = root / "data" / "helpdesk.duckdb"
    if not database.exists():
        (root / "data").mkdir(parents=True, exist_ok=True)
        with duckdb.connect(str(database)) as con:
            generate(con, rows)
    if (root / "definitions").exists():
        shutil.rmtree(root / "definitions")
    shutil.copytree(library_path(), root / "definitions")
    (root / "kpi.yml").write_text(PROJECT_FILE.format(database="data/helpdesk.duckdb"))
    return root


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(root: Path, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "kpi_engine", "--project", str(root), "serve", "--port", str(port)],
                              stdout=log.open("w"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"{base}/health", timeout=2)
            return server, base
        except httpx.TransportError:
            if server.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"kpi serve did not start; its log: {log}")
            time.sleep(0.2)


def memory_mb(pid: int) -> tuple[float, float]:
    """(resident now, peak resident) of a process, in MB: psutil's figures when it is installed (the peak from
    /proc on Linux, where psutil has none), else VmRSS and VmHWM of /proc/PID/status."""
    status = Path(f"/proc/{pid}/status")
    proc = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in status.read_text().splitlines()
            if line.startswith(("VmRSS", "VmHWM"))} if status.exists() else {}
    try:
        import psutil
    except ImportError:
        return proc["VmRSS"] / 2**20, proc["VmHWM"] / 2**20
    rss = psutil.Process(pid).memory_info().rss
    return rss / 2**20, proc.get("VmHWM", rss) / 2**20


# ======================================================================== requests
@dataclass(frozen=True)
class Request:
    kind: str  # cached, uncached or bad
    params: tuple[tuple[str, str], ...]

    @property
    def url(self) -> str:
        return "/query?" + urlencode(self.params)


def request(kind: str, query: dict) -> Request:
    params = [(name, item) for name, value in query.items() for item in (value if isinstance(value, list) else [value])]
    return Request(kind, tuple(params))


def distinct_query(i: int) -> dict:
    """The i-th of many distinct queries: a range that starts on another day, under another where."""
    start = FIRST_DAY + dt.timedelta(days=i % 700)
    length = 30 + (i // 700) % 300
    wheres = [f"channel = '{c}'" for c in CHANNELS] + [f"plan = '{p}'" for p in PLANS] + [
        f"channel = '{c}' and plan = '{p}'" for c, p in itertools.product(CHANNELS, PLANS)]
    query = {"kpi": KPIS, "grain": "month", "from": start.isoformat(),
             "to": (start + dt.timedelta(days=length)).isoformat()}
    where = wheres[(i // (700 * 300)) % len(wheres)] if i >= 700 * 300 else wheres[i % len(wheres)]
    return {**query, "where": where}


def in_process(project: kpi_engine.Project, query: dict) -> list[dict]:
    """The rows ``project.query`` gives for a request's query, as the API writes them in JSON; under the
    project's ``serve.timeout``, as the API runs it (a query with a time limit runs in a helper thread)."""
    result = project.query(query["kpi"], grain=query.get("grain", "month"), by=query.get("by", ()),
                           where=query.get("where"), start=query.get("from"), end=query.get("to"),
                           timeout=project.config.serve.timeout)
    return json.loads(json.dumps(result.to_dicts(), default=str))


def fingerprint(response: httpx.Response) -> tuple[int, object]:
    """What must be the same in every answer to a request: the status, and the rows or the error code."""
    body = response.json()
    return response.status_code, body["rows"] if "rows" in body else body["error"]["code"]


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"cached": [], "uncached": [], "bad": []})
    problems: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, seconds: float, problem: str | None = None) -> None:
        with self.lock:
            self.latencies[kind].append(seconds)
            if problem:
                self.problems.append(problem)


def send(client: httpx.Client, item: Request, expected: dict[Request, tuple[int, object]], tally: Tally) -> None:
    started = time.perf_counter()
    try:
        response = client.get(item.url)
    except httpx.TransportError as error:
        tally.add(item.kind, time.perf_counter() - started, f"transport error on {item.url}: {error!r}")
        return
    seconds = time.perf_counter() - started
    problem = None
    if response.status_code >= 500:
        problem = f"{response.status_code} on {item.url}: {response.text[:200]}"
    elif item in expected and fingerprint(response) != expected[item]:
        problem = f"another answer than the single request's on {item.url}"
    tally.add(item.kind, seconds, problem)


def run_clients(base: str, items: list[Request], clients: int, expected: dict, tally: Tally) -> float:
    """Send ``items`` from ``clients`` processes (the i-th takes every clients-th item); the seconds it took in
    all. Processes, not threads: sixteen client threads in one interpreter wait for each other's GIL, and
    their p99 is then the client's (a cached answer's p99 was twice the server's with threads)."""
    context = multiprocessing.get_context("fork")
    ready = context.Barrier(clients + 1)
    results = context.Queue()
    workers = [context.Process(target=_client, args=(base, items[i::clients], expected, ready, results))
               for i in range(clients)]
    for worker in workers:
        worker.start()
    ready.wait()
    started = time.perf_counter()
    for _ in workers:
        latencies, problems = results.get()
        for kind, values in latencies.items():
            tally.latencies[kind].extend(values)
        tally.problems.extend(problems)
    seconds = time.perf_counter() - started
    for worker in workers:
        worker.join()
    return seconds


def _client(base: str, items: list[Request], expected: dict, ready, results) -> None:
    """One client process: its requests one after the other on one keep-alive connection."""
    tally = Tally()
    with httpx.Client(base_url=base, timeout=60) as client:
        client.get("/health")  # connected before the clock starts
        ready.wait()
        for item in items:
            send(client, item, expected, tally)
    results.put((tally.latencies, tally.problems))


def ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


# ======================================================================== the runs
def sequential(base: str, project: kpi_engine.Project, samples: int) -> dict[str, float]:
    """p50 of one request at a time: cached (with the standard library's client, which costs a few tens of
    microseconds, and with httpx, which costs about a millisecond more), uncached over HTTP, and
    project.query in this process."""
    times: dict[str, list[float]] = {"cached": [], "cached (httpx)": [], "uncached": [], "in-process": []}
    cached_url = request("cached", CACHED[0]).url
    host, port = base.removeprefix("http://").rsplit(":", 1)
    thin = http.client.HTTPConnection(host, int(port), timeout=60)

    def thin_get(url: str) -> None:
        thin.request("GET", url)
        response = thin.getresponse()
        response.read()
        if response.status != 200:
            raise SystemExit(f"{url}: {response.status}")

    with httpx.Client(base_url=base, timeout=60) as client:
        thin_get(cached_url)
        for _ in range(samples):
            started = time.perf_counter()
            thin_get(cached_url)
            times["cached"].append(time.perf_counter() - started)
            started = time.perf_counter()
            client.get(cached_url).raise_for_status()
            times["cached (httpx)"].append(time.perf_counter() - started)
        for i in range(samples):  # distinct queries far from those of the load (i + 500,000)
            url = request("uncached", distinct_query(500_000 + 2 * i)).url
            started = time.perf_counter()
            thin_get(url)
            times["uncached"].append(time.perf_counter() - started)
            query = distinct_query(500_000 + 2 * i + 1)  # the same shape, another query: nothing cached
            started = time.perf_counter()
            in_process(project, query)
            times["in-process"].append(time.perf_counter() - started)
    thin.close()
    return {kind: ms(values, 0.5) for kind, values in times.items()}


def load(base: str, project: kpi_engine.Project, total: int, clients: int, seed: int) -> tuple[Tally, float]:
    rng = random.Random(seed)
    cached = [request("cached", q) for q in CACHED]
    bad = [request("bad", q) for q in BAD]
    expected: dict[Request, tuple[int, object]] = {}
    with httpx.Client(base_url=base, timeout=60) as client:  # the single-request answers
        for item in cached + bad:
            expected[item] = fingerprint(client.get(item.url))
    items: list[Request] = []
    uncached = 0
    for _ in range(total):
        draw = rng.random()
        if draw < 0.5:
            items.append(rng.choice(cached))
        elif draw < 0.85:
            query = distinct_query(uncached)
            uncached += 1
            item = request("uncached", query)
            expected[item] = (200, in_process(project, query))
            items.append(item)
        else:
            items.append(rng.choice(bad))
    tally = Tally()
    seconds = run_clients(base, items, clients, expected, tally)
    return tally, total / seconds


def soak(base: str, pid: int, minutes: float, clients: int) -> list[str]:
    """Distinct queries for ``minutes``; the server's memory every 30 s."""
    counter = itertools.count(1_000_000)
    lock = threading.Lock()
    stop = time.monotonic() + 60 * minutes
    tally = Tally()

    def work() -> None:
        with httpx.Client(base_url=base, timeout=60) as client:
            while time.monotonic() < stop:
                with lock:
                    i = next(counter)
                send(client, request("uncached", distinct_query(i)), {}, tally)

    threads = [threading.Thread(target=work, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    started = time.monotonic()

    def show() -> None:
        rss, peak = memory_mb(pid)
        print(f"  {time.monotonic() - started:6.0f} s  {len(tally.latencies['uncached']):7,} requests  "
              f"RSS {rss:7.1f} MB  peak {peak:7.1f} MB", flush=True)

    while time.monotonic() + 30 <= stop:
        time.sleep(30)
        show()
    for thread in threads:
        thread.join()
    show()
    values = tally.latencies["uncached"]
    print(f"  p50 {ms(values, 0.5):.2f} ms  p99 {ms(values, 0.99):.2f} ms over {len(values):,} distinct queries")
    return tally.problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--rows", type=int, default=100_000, help="demo tickets (default 100,000, as kpi demo)")
    parser.add_argument("--samples", type=int, default=100, help="requests per kind one at a time")
    parser.add_argument("--minutes", type=float, default=None, help="soak for N minutes instead of the mixed load")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--data", type=Path, default=HERE / "data")
    args = parser.parse_args()

    root = demo_project(args.rows, args.data)
    log = args.data / "http_load.log"
    server, base = start_server(root, log)
    # definition files written less than RACY_SECONDS ago are read again by every request (their time stamp
    # cannot tell a second edit within the same tick): measure once they are not
    time.sleep(max(0.0, RACY_SECONDS + 0.5 - (time.time() - (root / "kpi.yml").stat().st_mtime)))
    print(f"kpi serve on {base} (pid {server.pid}), demo project of {args.rows:,} tickets, "
          f"{os.cpu_count()} cores; server log: {log}")
    try:
        if args.minutes is not None:
            print(f"soak: {args.clients} clients, distinct queries for {args.minutes:g} minutes")
            problems = soak(base, server.pid, args.minutes, args.clients)
            report_problems(problems)
            return
        project = kpi_engine.load(root)
        single = sequential(base, project, args.samples)
        print(f"\none request at a time ({args.samples} each), p50:")
        print(f"  cached over HTTP          {single['cached']:7.2f} ms   (aim: under 2 ms)")
        print(f"  cached, client httpx      {single['cached (httpx)']:7.2f} ms")
        print(f"  uncached over HTTP        {single['uncached']:7.2f} ms")
        print(f"  project.query in-process  {single['in-process']:7.2f} ms")
        print(f"  HTTP overhead             {single['uncached'] - single['in-process']:7.2f} ms   (aim: at most 3 ms)")
        tally, rate = load(base, project, args.requests, args.clients, args.seed)
        rss, peak = memory_mb(server.pid)
        print(f"\n{args.requests:,} mixed requests from {args.clients} clients: {rate:,.0f} requests/s")
        for kind, values in tally.latencies.items():
            aim = "   (aim: p99 under 50 ms)" if kind == "cached" else ""
            print(f"  {kind:9} {len(values):5,}  p50 {ms(values, 0.5):7.2f} ms  p99 {ms(values, 0.99):7.2f} ms{aim}")
        print(f"server memory: {rss:.1f} MB now, {peak:.1f} MB peak")
        report_problems(tally.problems)
    finally:
        server.terminate()
        server.wait(timeout=30)


def report_problems(problems: list[str]) -> None:
    if problems:
        print(f"\n{len(problems)} problems (transport errors, 5xx or answers unlike the single request's):")
        for problem in problems[:20]:
            print(f"  {problem}")
        sys.exit(1)
    print("no transport error, no 5xx, every answer equal to the single request's")


if __name__ == "__main__":
    main()
