"""Generated help-desk tables full of the cases engines disagree on.

The tables have the columns of ``kpi demo`` (so the shipped library reads them)
but few rows, chosen to be awkward rather than realistic:

- nulls in every nullable column: dimensions, scores, durations, flags, amounts;
- empty periods (no ticket, call, survey or order in March 2025) and empty
  groups (a channel with no ticket in some months, a plan nobody has);
- ties (repeated values, for medians and percentiles);
- unicode text in dimension values (accents, CJK, Greek, emoji);
- timestamps exactly on period boundaries (midnight of a year, quarter, month,
  ISO week start) and one microsecond before them;
- customers who sign up and churn in the same period, churn exactly at a period
  boundary, or churn at (or before) their signup — never active;
- rows whose join finds no customer, and a null customer id.

Everything comes from one seeded ``random.Random``: the same tables every run.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any

from support.engines import Table

T = dt.datetime
START = T(2024, 11, 1)
END = T(2025, 7, 1)  # rows fall in [START, END)
EMPTY_MONTH = (T(2025, 3, 1), T(2025, 4, 1))  # no tickets, calls, surveys or orders in it

#: Instants on period boundaries, and just before them.
BOUNDARIES = [
    T(2025, 1, 1), T(2025, 4, 1), T(2025, 2, 1), T(2025, 6, 1),  # year, quarter, month starts
    T(2024, 12, 30), T(2025, 1, 6), T(2025, 5, 5),  # ISO week starts (Mondays)
    T(2024, 12, 31, 23, 59, 59, 999999), T(2025, 1, 31, 23, 59, 59), T(2025, 5, 31, 23, 59, 59, 500000),
]

PLANS = ["free", "pro", "enterprise", "Über-Plan ✨", None]
REGIONS = ["Zürich", "São Paulo", "東京", "Ελλάδα", "north", None]
CHANNELS = ["email", "chat", "phone", "web", None]
ACQUISITION = ["organic", "paid_search", "partner", "référencement", None]
CATEGORIES = ["billing", "facturación", "🙂 feedback", "delivery", None]
PRIORITIES = ["low", "high", "urgent", None]
QUEUES = ["support", "sales", "retención", None]


def _instant(rng: random.Random, *, avoid_empty: bool = True) -> dt.datetime:
    """A time in [START, END): often on a boundary, otherwise anywhere (seconds, sometimes microseconds)."""
    while True:
        if rng.random() < 0.15:
            value = rng.choice(BOUNDARIES)
        else:
            span = int((END - START).total_seconds())
            value = START + dt.timedelta(seconds=rng.randrange(span))
            if rng.random() < 0.2:
                value = value.replace(microsecond=rng.randrange(1_000_000))
        if not (avoid_empty and EMPTY_MONTH[0] <= value < EMPTY_MONTH[1]):
            return value


def _maybe(rng: random.Random, value: Any, null_share: float = 0.1) -> Any:
    return None if rng.random() < null_share else value


def customers(rng: random.Random, n: int = 70) -> Table:
    rows = []
    for i in range(1, n + 1):
        signup = _instant(rng, avoid_empty=False) - dt.timedelta(days=rng.choice([0, 0, 30, 200]))
        kind = rng.random()
        if kind < 0.4:
            churn = None
        elif kind < 0.55:  # signs up and churns within the same month (usually)
            churn = signup + dt.timedelta(hours=rng.randrange(1, 72))
        elif kind < 0.65:  # churns exactly on a boundary
            churn = rng.choice(BOUNDARIES[:4])
        elif kind < 0.7:  # churned_at at or before signup: never active
            churn = signup - dt.timedelta(days=rng.choice([0, 3]))
        else:
            churn = signup + dt.timedelta(days=rng.randrange(1, 240), seconds=rng.randrange(86400))
        plan = "pro" if i % 9 == 0 else _maybe(rng, rng.choice(PLANS[:4]))
        rows.append((i, f"Client {i} – {rng.choice(['Ltd', 'GmbH', 'S.A.', '株式会社'])}", plan,
                     _maybe(rng, rng.choice(ACQUISITION[:4])), _maybe(rng, rng.choice(REGIONS[:5])), signup, churn))
    return ["customer_id", "name", "plan", "channel", "region", "signup_at", "churned_at"], rows


def _customer_id(rng: random.Random, n_customers: int) -> int | None:
    roll = rng.random()
    if roll < 0.05:
        return None
    if roll < 0.1:
        return n_customers + 1000  # no such customer: the join finds nothing
    return rng.randrange(1, n_customers + 1)


def tickets(rng: random.Random, n_customers: int, n: int = 400) -> Table:
    rows = []
    for i in range(1, n + 1):
        created = _instant(rng)
        status = rng.choice(["open", "pending", "resolved", "closed", "resolved"])
        response = _maybe(rng, created + dt.timedelta(seconds=rng.choice([60, 60, 300, 3600, 7200])), 0.2)
        resolved = (created + dt.timedelta(seconds=rng.choice([600, 3600, 3600, 86400 * 3])) if status in
                    ("resolved", "closed") and rng.random() < 0.9 else None)
        if resolved is not None and rng.random() < 0.1:
            resolved = rng.choice(BOUNDARIES)  # resolved on a boundary (maybe before created: odd but real)
        rows.append((i, _customer_id(rng, n_customers), _maybe(rng, rng.choice(CHANNELS[:4])),
                     _maybe(rng, rng.choice(CATEGORIES[:4])), _maybe(rng, rng.choice(PRIORITIES[:3])), status,
                     _maybe(rng, rng.random() < 0.15), _maybe(rng, rng.random() < 0.05, 0.05),
                     _maybe(rng, rng.choice([1, 1, 1, 2, 3])), created, response, resolved,
                     _maybe(rng, rng.choice([120, 300, 300, 600, 900])), _maybe(rng, rng.randrange(1, 6))))
    columns = ["ticket_id", "customer_id", "channel", "category", "priority", "status", "is_complaint", "is_spam",
               "contacts", "created_at", "first_response_at", "resolved_at", "handle_seconds", "agent_id"]
    return columns, rows


def calls(rng: random.Random, n_customers: int, n: int = 250) -> Table:
    rows = []
    for i in range(1, n + 1):
        abandoned = rng.random() < 0.2
        answered = None if rng.random() < 0.03 else not abandoned
        wait = _maybe(rng, rng.choice([5, 20, 20, 21, 45, 120]), 0.05)
        handle = _maybe(rng, rng.choice([180, 240, 240, 600])) if answered else None
        rows.append((i, _customer_id(rng, n_customers), _maybe(rng, rng.choice(QUEUES[:3])), _instant(rng), wait,
                     answered, abandoned, handle, _maybe(rng, rng.randrange(1, 6))))
    return ["call_id", "customer_id", "queue", "called_at", "wait_seconds", "answered", "abandoned",
            "handle_seconds", "agent_id"], rows


def surveys(rng: random.Random, n_customers: int, n: int = 220) -> Table:
    rows = []
    for i in range(1, n + 1):
        kind = rng.choice(["csat", "nps", "ces"])
        top = {"csat": 5, "nps": 10, "ces": 7}[kind]
        score = _maybe(rng, rng.randint(0 if kind == "nps" else 1, top), 0.1)
        rows.append((i, rng.randrange(1, 400), _customer_id(rng, n_customers), _maybe(rng, rng.choice(CHANNELS[:4])),
                     kind, score, _instant(rng)))
    return ["survey_id", "ticket_id", "customer_id", "channel", "kind", "score", "answered_at"], rows


def marketing_spend(rng: random.Random) -> Table:
    rows = []
    day = START.date()
    while day < END.date():
        for channel in ("paid_search", "partner", "référencement"):
            if rng.random() < 0.3:
                rows.append((day, channel, _maybe(rng, Decimal(rng.randrange(0, 50000)) / 100, 0.05)))
        day += dt.timedelta(days=rng.choice([1, 3, 7]))
    return ["spend_date", "channel", "amount"], rows


def orders(rng: random.Random, n_customers: int, n: int = 200) -> Table:
    rows = []
    for i in range(1, n + 1):
        amount = _maybe(rng, Decimal(rng.choice([1999, 4999, 4999, 12000, 250])) / 100, 0.05)
        cost = _maybe(rng, (amount or Decimal(10)) * Decimal("0.55"), 0.05)
        rows.append((i, _customer_id(rng, n_customers), _instant(rng),
                     rng.choice(["paid", "paid", "paid", "refunded", "cancelled"]), amount,
                     cost.quantize(Decimal("0.01")) if cost is not None else None))
    return ["order_id", "customer_id", "ordered_at", "status", "amount", "cost"], rows


def generate(seed: int = 20251123) -> dict[str, Table]:
    """Every table of the library, awkward on purpose; the same for the same seed."""
    rng = random.Random(seed)
    people = customers(rng)
    n = len(people[1])
    return {"customers": people, "tickets": tickets(rng, n), "calls": calls(rng, n), "surveys": surveys(rng, n),
            "marketing_spend": marketing_spend(rng), "orders": orders(rng, n)}
