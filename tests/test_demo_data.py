"""The `kpi demo` dataset: exact schema, determinism, invariants and the patterns the demo relies on."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import duckdb
import pytest

from kpi_engine.demo import data

ROWS = 20_000
END = "TIMESTAMP '2025-12-31 23:59:59'"

SCHEMA = {
    "customers": [
        ("customer_id", "INTEGER"), ("name", "VARCHAR"), ("plan", "VARCHAR"), ("channel", "VARCHAR"),
        ("region", "VARCHAR"), ("signup_at", "TIMESTAMP"), ("churned_at", "TIMESTAMP"),
    ],
    "tickets": [
        ("ticket_id", "BIGINT"), ("customer_id", "INTEGER"), ("channel", "VARCHAR"), ("category", "VARCHAR"),
        ("priority", "VARCHAR"), ("status", "VARCHAR"), ("is_complaint", "BOOLEAN"), ("is_spam", "BOOLEAN"),
        ("contacts", "INTEGER"), ("created_at", "TIMESTAMP"), ("first_response_at", "TIMESTAMP"),
        ("resolved_at", "TIMESTAMP"), ("handle_seconds", "INTEGER"), ("agent_id", "INTEGER"),
    ],
    "calls": [
        ("call_id", "BIGINT"), ("customer_id", "INTEGER"), ("queue", "VARCHAR"), ("called_at", "TIMESTAMP"),
        ("wait_seconds", "INTEGER"), ("answered", "BOOLEAN"), ("abandoned", "BOOLEAN"),
        ("handle_seconds", "INTEGER"), ("agent_id", "INTEGER"),
    ],
    "surveys": [
        ("survey_id", "BIGINT"), ("ticket_id", "BIGINT"), ("customer_id", "INTEGER"), ("channel", "VARCHAR"),
        ("kind", "VARCHAR"), ("score", "INTEGER"), ("answered_at", "TIMESTAMP"),
    ],
    "marketing_spend": [("spend_date", "DATE"), ("channel", "VARCHAR"), ("amount", "DECIMAL(12,2)")],
    "orders": [
        ("order_id", "BIGINT"), ("customer_id", "INTEGER"), ("ordered_at", "TIMESTAMP"), ("status", "VARCHAR"),
        ("amount", "DECIMAL(12,2)"), ("cost", "DECIMAL(12,2)"),
    ],
    "kpi_demo_info": [("key", "VARCHAR"), ("value", "VARCHAR")],
}

DOMAINS = {
    ("customers", "plan"): {"basic", "pro", "enterprise"},
    ("customers", "channel"): {"organic", "paid_search", "social", "referral", "partner"},
    ("customers", "region"): {"north", "northeast", "southeast", "south", "midwest"},
    ("tickets", "channel"): {"email", "chat", "phone", "web"},
    ("tickets", "category"): {"billing", "technical", "account", "delivery", "other"},
    ("tickets", "priority"): {"low", "normal", "high", "urgent"},
    ("tickets", "status"): {"open", "pending", "resolved", "closed"},
    ("calls", "queue"): {"sales", "support", "billing"},
    ("surveys", "kind"): {"csat", "nps", "ces"},
    ("surveys", "channel"): {"email", "chat", "phone", "web"},
    ("marketing_spend", "channel"): {"paid_search", "social", "referral", "partner"},
    ("orders", "status"): {"paid", "refunded", "cancelled"},
}


@pytest.fixture(scope="module")
def demo() -> Iterator[tuple[duckdb.DuckDBPyConnection, dict[str, int]]]:
    con = duckdb.connect()
    counts = data.generate(con, ROWS)
    yield con, counts
    con.close()


@pytest.fixture(scope="module")
def con(demo: tuple[duckdb.DuckDBPyConnection, dict[str, int]]) -> duckdb.DuckDBPyConnection:
    return demo[0]


def one(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    row = con.execute(sql).fetchone()
    assert row is not None
    return row[0] if len(row) == 1 else row


def none_violate(con: duckdb.DuckDBPyConnection, table: str, condition: str) -> None:
    """Every row of `table` satisfies `condition` (NULL counts as a violation)."""
    bad = one(con, f"SELECT count(*) FROM {table} WHERE ({condition}) IS NOT TRUE")
    assert bad == 0, f"{bad} rows of {table} break: {condition}"


# --- sizes and schema -----------------------------------------------------------------------


def test_row_counts(demo: tuple[duckdb.DuckDBPyConnection, dict[str, int]]) -> None:
    con, counts = demo
    actual = {table: one(con, f"SELECT count(*) FROM {table}") for table in data.TABLES}
    assert counts == actual
    assert counts["tickets"] == ROWS
    assert counts["calls"] == ROWS // 2
    assert counts["orders"] == ROWS // 2
    assert counts["customers"] == max(500, ROWS // 20)
    assert counts["marketing_spend"] == 731 * 4
    assert counts["kpi_demo_info"] == 4
    assert 0.27 * ROWS <= counts["surveys"] <= 0.33 * ROWS


@pytest.mark.parametrize("rows", [1, 7, 999])
def test_tiny_sizes_keep_exact_counts(rows: int) -> None:
    con = duckdb.connect()
    counts = data.generate(con, rows)
    assert counts["tickets"] == rows
    assert counts["calls"] == counts["orders"] == rows // 2
    assert counts["customers"] == 500
    none_violate(con, "tickets t", "(SELECT signup_at FROM customers c WHERE c.customer_id = t.customer_id)"
                                   " < t.created_at")


@pytest.mark.parametrize("rows", [0, -5, True, 2.0, "100"])
def test_rejects_bad_rows(rows: Any) -> None:
    with pytest.raises(ValueError):
        data.generate(duckdb.connect(), rows)


def test_schema_is_exact(con: duckdb.DuckDBPyConnection) -> None:
    for table, columns in SCHEMA.items():
        described = [(name, type_.replace(", ", ","))
                     for name, type_, *_ in con.execute(f"DESCRIBE {table}").fetchall()]
        assert described == columns, table


def test_value_domains(con: duckdb.DuckDBPyConnection) -> None:
    for (table, column), domain in DOMAINS.items():
        values = {v for (v,) in con.execute(f"SELECT DISTINCT {column} FROM {table}").fetchall()}
        assert values == domain, (table, column)


def test_info_table(con: duckdb.DuckDBPyConnection) -> None:
    info = dict(con.execute("SELECT key, value FROM kpi_demo_info").fetchall())
    assert info == {"generator": "kpi_engine demo", "rows": str(ROWS),
                    "first_day": "2024-01-01", "last_day": "2025-12-31"}
    assert data.FIRST_DAY == dt.date(2024, 1, 1) and data.LAST_DAY == dt.date(2025, 12, 31)


def test_ids_are_dense_and_rows_stored_in_id_order(con: duckdb.DuckDBPyConnection) -> None:
    for table, key in [("customers", "customer_id"), ("tickets", "ticket_id"), ("calls", "call_id"),
                       ("surveys", "survey_id"), ("orders", "order_id")]:
        in_order = one(con, f"SELECT bool_and({key} = n) FROM (SELECT {key}, row_number() OVER () AS n FROM {table})")
        assert in_order, table


def test_no_helper_tables_left_behind(con: duckdb.DuckDBPyConnection) -> None:
    assert one(con, "SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE '\\_kpi\\_demo\\_%' ESCAPE '\\'") == 0


# --- determinism ----------------------------------------------------------------------------


def _snapshot(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[Any, ...]]]:
    return {table: con.execute(f"SELECT * FROM {table}").fetchall() for table in data.TABLES}


def _checksums(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[Any, ...]]:
    """Order-sensitive checksums: each row's hash weighted by its position."""
    return {table: one(con, f"SELECT count(*), sum(hash(t)), sum(hash(t) * n)"
                            f" FROM (SELECT t, row_number() OVER () AS n FROM {table} t)")
            for table in data.TABLES}


def test_same_rows_same_tables() -> None:
    first, second = duckdb.connect(), duckdb.connect()
    data.generate(first, 5_000)
    data.generate(second, 5_000)
    assert _snapshot(first) == _snapshot(second)


def test_thread_count_does_not_change_the_data() -> None:
    single, parallel = duckdb.connect(), duckdb.connect()
    single.execute("SET threads = 1")
    parallel.execute("SET threads = 4")
    data.generate(single, 150_000)
    data.generate(parallel, 150_000)
    assert _checksums(single) == _checksums(parallel)


def test_regenerating_replaces_the_tables() -> None:
    con = duckdb.connect()
    data.generate(con, 3_000)
    counts = data.generate(con, 2_000)
    assert counts["tickets"] == one(con, "SELECT count(*) FROM tickets") == 2_000
    assert one(con, "SELECT value FROM kpi_demo_info WHERE key = 'rows'") == "2000"


def test_a_failure_leaves_the_previous_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    con = duckdb.connect()
    data.generate(con, 3_000)
    monkeypatch.setattr(data, "_orders_sql", lambda events: "SELECT no_such_column")
    with pytest.raises(duckdb.Error):
        data.generate(con, 2_000)
    assert one(con, "SELECT count(*) FROM tickets") == 3_000
    assert one(con, "SELECT value FROM kpi_demo_info WHERE key = 'rows'") == "3000"


# --- invariants -----------------------------------------------------------------------------


def test_customer_invariants(con: duckdb.DuckDBPyConnection) -> None:
    none_violate(con, "customers", "signup_at >= TIMESTAMP '2022-01-01' AND signup_at <= " + END)
    none_violate(con, "customers", f"churned_at IS NULL OR (churned_at > signup_at AND churned_at <= {END})")
    none_violate(con, "customers", "length(name) > 0")
    n = one(con, "SELECT count(*) FROM customers")
    ids = one(con, "SELECT count(DISTINCT customer_id), min(customer_id), max(customer_id) FROM customers")
    assert ids == (n, 1, n)
    assert one(con, "SELECT avg((signup_at < DATE '2024-01-01')::INT) FROM customers") == pytest.approx(0.2, abs=0.01)
    assert one(con, "SELECT avg((churned_at IS NULL)::INT) FROM customers") > 0.5


def test_ticket_invariants(con: duckdb.DuckDBPyConnection) -> None:
    none_violate(con, "tickets", f"created_at >= TIMESTAMP '2024-01-01' AND created_at <= {END}")
    none_violate(con, "tickets", "(resolved_at IS NULL) = (status IN ('open', 'pending'))")
    none_violate(con, "tickets", f"resolved_at IS NULL OR (resolved_at > created_at AND resolved_at <= {END})")
    none_violate(con, "tickets", f"first_response_at IS NULL OR "
                                 f"(first_response_at >= created_at AND first_response_at <= {END})")
    none_violate(con, "tickets",
                 "first_response_at IS NULL OR resolved_at IS NULL OR first_response_at <= resolved_at")
    none_violate(con, "tickets", "contacts BETWEEN 1 AND 5 AND handle_seconds > 0")
    none_violate(con, "tickets", f"agent_id BETWEEN 1 AND {data.agent_count(ROWS)}")
    none_violate(con, "tickets", "NOT (is_spam AND is_complaint)")
    ids = one(con, "SELECT count(DISTINCT ticket_id), min(ticket_id), max(ticket_id) FROM tickets")
    assert ids == (ROWS, 1, ROWS)


def test_each_ticket_and_order_has_an_active_customer(con: duckdb.DuckDBPyConnection) -> None:
    for table, at in [("tickets", "created_at"), ("orders", "ordered_at")]:
        orphans = one(con, f"SELECT count(*) FROM {table} x LEFT JOIN customers c USING (customer_id)"
                           f" WHERE c.customer_id IS NULL")
        assert orphans == 0, table
        inactive = one(con, f"SELECT count(*) FROM {table} x JOIN customers c USING (customer_id)"
                            f" WHERE NOT (c.signup_at < x.{at} AND (c.churned_at IS NULL OR c.churned_at > x.{at}))")
        assert inactive == 0, table


def test_call_invariants(con: duckdb.DuckDBPyConnection) -> None:
    none_violate(con, "calls", f"called_at >= TIMESTAMP '2024-01-01' AND called_at <= {END}")
    none_violate(con, "calls", "abandoned = NOT answered AND wait_seconds >= 0")
    none_violate(con, "calls", "(handle_seconds IS NULL) = NOT answered AND (agent_id IS NULL) = NOT answered")
    none_violate(con, "calls", "handle_seconds IS NULL OR handle_seconds > 0")
    none_violate(con, "calls c", "c.customer_id IS NULL OR (SELECT signup_at FROM customers k"
                                 " WHERE k.customer_id = c.customer_id) < c.called_at")
    assert one(con, "SELECT avg((customer_id IS NULL)::INT) FROM calls") == pytest.approx(0.10, abs=0.03)


def test_survey_invariants(con: duckdb.DuckDBPyConnection) -> None:
    joined = "surveys s JOIN tickets t USING (ticket_id)"
    assert one(con, f"SELECT count(*) FROM {joined}") == one(con, "SELECT count(*) FROM surveys")
    assert one(con, "SELECT count(DISTINCT ticket_id) = count(*) FROM surveys")
    none_violate(con, joined,
                 f"t.resolved_at IS NOT NULL AND s.answered_at > t.resolved_at AND s.answered_at <= {END}")
    none_violate(con, joined, "s.channel = t.channel AND s.customer_id = t.customer_id")
    none_violate(con, "surveys", "score IS NULL OR CASE kind WHEN 'csat' THEN score BETWEEN 1 AND 5"
                                 " WHEN 'nps' THEN score BETWEEN 0 AND 10 ELSE score BETWEEN 1 AND 7 END")
    assert one(con, "SELECT avg((score IS NULL)::INT) FROM surveys") == pytest.approx(0.05, abs=0.015)


def test_order_and_spend_invariants(con: duckdb.DuckDBPyConnection) -> None:
    none_violate(con, "orders", f"ordered_at >= TIMESTAMP '2024-01-01' AND ordered_at <= {END}")
    none_violate(con, "orders",
                 "amount BETWEEN 20 AND 500 AND cost BETWEEN 0.4 * amount - 0.01 AND 0.7 * amount + 0.01")
    none_violate(con, "marketing_spend", "amount > 0 AND spend_date BETWEEN DATE '2024-01-01' AND DATE '2025-12-31'")
    assert one(con, "SELECT count(DISTINCT (spend_date, channel)) FROM marketing_spend") == 731 * 4
    shares = dict(con.execute("SELECT status, count(*) / sum(count(*)) OVER () FROM orders GROUP BY status")
                  .fetchall())
    assert shares["paid"] == pytest.approx(0.92, abs=0.015)
    assert shares["refunded"] == pytest.approx(0.05, abs=0.01)


# --- the patterns the demo shows ------------------------------------------------------------


def test_ticket_time_patterns(con: duckdb.DuckDBPyConnection) -> None:
    per_day = "SELECT created_at::DATE AS day, count(*) AS n FROM tickets GROUP BY ALL"
    weekday, weekend = one(con, f"SELECT avg(n) FILTER (WHERE isodow(day) <= 5),"
                                f" avg(n) FILTER (WHERE isodow(day) > 5) FROM ({per_day})")
    assert 0.3 < weekend / weekday < 0.5
    monday, friday = one(con, f"SELECT avg(n) FILTER (WHERE isodow(day) = 1), avg(n) FILTER (WHERE isodow(day) = 5)"
                              f" FROM ({per_day})")
    assert monday > friday
    first, last = one(con, "SELECT count(*) FILTER (WHERE created_at < DATE '2024-04-01'),"
                           " count(*) FILTER (WHERE created_at >= DATE '2025-10-01') FROM tickets")
    assert last > 1.2 * first
    by_hour = dict(con.execute("SELECT hour(created_at), count(*) FROM tickets GROUP BY ALL").fetchall())
    assert by_hour[10] > 10 * by_hour[3]
    assert by_hour[10] > by_hour[12] < by_hour[15]
    assert sum(by_hour[h] for h in range(8, 18)) > 0.7 * ROWS
    june, december = one(con, "SELECT count(*) FILTER (WHERE month(created_at) = 6),"
                              " count(*) FILTER (WHERE month(created_at) = 12) FROM tickets")
    assert december > 1.2 * june


def test_ticket_rates(con: duckdb.DuckDBPyConnection) -> None:
    spam, complaints, solved, unanswered, fcr = one(con, """
        SELECT avg(is_spam::INT), avg(is_complaint::INT), avg((status IN ('resolved', 'closed'))::INT),
               avg((first_response_at IS NULL)::INT),
               avg((contacts = 1)::INT) FILTER (WHERE status IN ('resolved', 'closed') AND NOT is_spam)
        FROM tickets""")
    assert spam == pytest.approx(0.02, abs=0.005)
    assert complaints == pytest.approx(0.04, abs=0.01)
    assert solved == pytest.approx(0.85, abs=0.03)
    assert unanswered == pytest.approx(0.03, abs=0.015)
    assert fcr == pytest.approx(0.70, abs=0.04)
    open_overall, open_last_week = one(con, """
        SELECT avg((resolved_at IS NULL)::INT),
               avg((resolved_at IS NULL)::INT) FILTER (WHERE created_at >= DATE '2025-12-25')
        FROM tickets""")
    assert open_last_week > 2 * open_overall


def test_service_times_by_channel_and_over_time(con: duckdb.DuckDBPyConnection) -> None:
    rows = con.execute("""
        SELECT channel, median(date_diff('second', created_at, first_response_at)),
               median(date_diff('second', created_at, resolved_at)), avg(handle_seconds)
        FROM tickets WHERE NOT is_spam GROUP BY channel""").fetchall()
    response = {c: r for c, r, _, _ in rows}
    resolution = {c: r for c, _, r, _ in rows}
    handle = {c: h for c, _, _, h in rows}
    assert response["phone"] <= 30 and response["chat"] < 600 and response["email"] > 3600
    assert max(resolution["phone"], resolution["chat"]) < min(resolution["email"], resolution["web"])
    assert 300 <= handle["phone"] <= 600 and 300 <= handle["chat"] <= 500 and 150 <= handle["email"] <= 260
    early, late = one(con, "SELECT avg(handle_seconds) FILTER (WHERE year(created_at) = 2024),"
                           " avg(handle_seconds) FILTER (WHERE year(created_at) = 2025) FROM tickets")
    assert late < 0.95 * early


def test_call_centre_figures(con: duckdb.DuckDBPyConnection) -> None:
    abandonment, service_level = one(con, "SELECT avg(abandoned::INT), avg((answered AND wait_seconds <= 20)::INT)"
                                          " FROM calls")
    assert 0.05 <= abandonment <= 0.08
    assert service_level == pytest.approx(0.80, abs=0.04)
    peak, night = one(con, "SELECT avg(wait_seconds) FILTER (WHERE hour(called_at) = 10),"
                           " avg(wait_seconds) FILTER (WHERE hour(called_at) BETWEEN 0 AND 5) FROM calls")
    assert peak > 3 * night
    long_wait, short_wait = one(con, "SELECT avg(abandoned::INT) FILTER (WHERE wait_seconds >= 30),"
                                     " avg(abandoned::INT) FILTER (WHERE wait_seconds < 30) FROM calls")
    assert long_wait > short_wait


def test_survey_scores(con: duckdb.DuckDBPyConnection) -> None:
    kinds = dict(con.execute("SELECT kind, count(*) FROM surveys GROUP BY ALL").fetchall())
    assert kinds["csat"] > kinds["nps"] > kinds["ces"]
    satisfied = one(con, "SELECT avg((score >= 4)::INT) FROM surveys WHERE kind = 'csat' AND score IS NOT NULL")
    assert 0.75 < satisfied < 0.92
    promoters, detractors = one(con, "SELECT avg((score >= 9)::INT), avg((score <= 6)::INT)"
                                     " FROM surveys WHERE kind = 'nps' AND score IS NOT NULL")
    assert promoters == pytest.approx(0.5, abs=0.05) and detractors == pytest.approx(0.2, abs=0.05)
    easy = one(con, "SELECT avg((score >= 5)::INT) FROM surveys WHERE kind = 'ces' AND score IS NOT NULL")
    assert easy > 0.65
    early, late = one(con, """
        SELECT avg((score >= 4)::INT) FILTER (WHERE year(answered_at) = 2024),
               avg((score >= 4)::INT) FILTER (WHERE year(answered_at) = 2025)
        FROM surveys WHERE kind = 'csat' AND score IS NOT NULL""")
    assert late > early


def test_customer_base_figures(con: duckdb.DuckDBPyConnection) -> None:
    monthly_churn = one(con, """
        WITH months AS (
            SELECT range AS m FROM range(TIMESTAMP '2024-01-01', TIMESTAMP '2026-01-01', INTERVAL 1 MONTH))
        SELECT avg(churned / active) FROM (
            SELECT (SELECT count(*) FROM customers
                    WHERE churned_at >= m AND churned_at < m + INTERVAL 1 MONTH) AS churned,
                   (SELECT count(*) FROM customers
                    WHERE signup_at < m AND (churned_at IS NULL OR churned_at >= m)) AS active
            FROM months)""")
    assert 0.02 <= monthly_churn <= 0.04
    basic, enterprise = one(con, "SELECT avg((churned_at IS NOT NULL)::INT) FILTER (WHERE plan = 'basic'),"
                                 " avg((churned_at IS NOT NULL)::INT) FILTER (WHERE plan = 'enterprise')"
                                 " FROM customers")
    assert basic > enterprise
    h1, h2 = one(con, "SELECT count(*) FILTER (WHERE signup_at BETWEEN DATE '2024-01-01' AND DATE '2024-06-30'),"
                      " count(*) FILTER (WHERE signup_at BETWEEN DATE '2025-07-01' AND DATE '2025-12-31')"
                      " FROM customers")
    assert h2 > h1
    cac = one(con, "SELECT (SELECT sum(amount) FROM marketing_spend)"
                   " / (SELECT count(*) FROM customers WHERE signup_at >= DATE '2024-01-01')")
    assert 50 <= cac <= 300
    by_channel = con.execute("""
        SELECT s.channel, s.spend / n.new
        FROM (SELECT channel, sum(amount) AS spend FROM marketing_spend GROUP BY ALL) s
        JOIN (SELECT channel, count(*) AS new FROM customers WHERE signup_at >= DATE '2024-01-01' GROUP BY ALL) n
        USING (channel)""").fetchall()
    assert len(by_channel) == 4 and all(50 <= cac <= 350 for _, cac in by_channel)


def test_orders_grow_and_price_by_plan(con: duckdb.DuckDBPyConnection) -> None:
    y2024, y2025 = one(con, "SELECT sum(amount) FILTER (WHERE year(ordered_at) = 2024)::DOUBLE,"
                            " sum(amount) FILTER (WHERE year(ordered_at) = 2025)::DOUBLE"
                            " FROM orders WHERE status = 'paid'")
    assert y2025 > 1.15 * y2024
    by_plan = dict(con.execute("SELECT c.plan, avg(o.amount) FROM orders o JOIN customers c USING (customer_id)"
                               " GROUP BY ALL").fetchall())
    assert by_plan["basic"] < by_plan["pro"] < by_plan["enterprise"]
    margin = one(con, "SELECT ((sum(amount) - sum(cost)) / sum(amount))::DOUBLE FROM orders WHERE status = 'paid'")
    assert 0.40 < margin < 0.50
