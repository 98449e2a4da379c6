"""kpi serve reopens its database connections every so many queries, when none runs (kpi_engine.http.recycle):
DuckDB keeps memory from the queries it ran until its database is closed. Numbers:
tests/support/http_project.py."""

from __future__ import annotations

import threading

import kpi_engine.http.recycle as recycle
from kpi_engine.http.recycle import Recycler
from support.http_project import DEFINITIONS, TABLES, client


class _Project:
    def __init__(self) -> None:
        self.closed = 0

    def close(self) -> None:
        self.closed += 1


def test_connections_are_closed_after_every_n_queries():
    project, recycler = _Project(), Recycler(3)
    for _ in range(7):
        with recycler.running(project):
            pass
    assert project.closed == 2  # after the 3rd and the 6th


def test_never_while_a_query_runs():
    project, recycler = _Project(), Recycler(2)
    inside, leave = threading.Event(), threading.Event()

    def long_query() -> None:
        with recycler.running(project):
            inside.set()
            leave.wait(10)

    thread = threading.Thread(target=long_query)
    thread.start()
    assert inside.wait(10)
    for _ in range(3):
        with recycler.running(project):
            pass
    assert project.closed == 0  # due, but the long query still runs
    leave.set()
    thread.join()
    assert project.closed == 1  # closed as the last query ended


def test_answers_stay_right_across_reopenings(make_project, monkeypatch):
    monkeypatch.setattr(recycle, "EVERY_QUERIES", 2)
    api = client(make_project(DEFINITIONS, TABLES))
    # tickets: Jan 5 EU email, Jan 20 US chat, Feb 3 EU chat, Feb 10 US email, Feb 15 EU email; each query
    # new to the cache, so each one runs
    for where, january, february in (("", 2, 3), ("&where=channel%20%3D%20%27email%27", 1, 2),
                                     ("&where=channel%20%3D%20%27chat%27", 1, 1),
                                     ("&where=region%20%3D%20%27EU%27", 1, 2), ("&where=region%20%3D%20%27US%27", 1, 1)):
        answer = api.get(f"/query?kpi=volume&grain=month{where}")
        assert answer.status_code == 200 and answer.json()["meta"]["cached"] is False
        assert answer.json()["rows"] == [{"period": "2025-01-01", "volume": january},
                                         {"period": "2025-02-01", "volume": february}]
