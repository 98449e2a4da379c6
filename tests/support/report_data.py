"""Projects for the tests of ``kpi report`` and the live dashboard, with every number worked out by hand.

``recent_tickets(today)``: tickets dated relative to the current month M (UTC), so the month in
progress is partial whatever day the tests run; surveys end earlier (M-3), so their KPI has a
default range of its own. ``FIXED_TICKETS``: the first half of 2025, for the month and quarter
numbers of the dashboard.
"""

from __future__ import annotations

import datetime as dt

T = dt.datetime

DEFINITIONS = """
datasets:
  tickets:
    table: tickets
    time: created_at
    dimensions:
      region: region
  surveys:
    table: surveys
    time: answered_at
kpis:
  volume:
    title: Ticket volume
    description: Tickets opened in the period.
    dataset: tickets
    formula: count()
    format: integer
    direction: lower
    target: 3
    owner: support-ops
    tags: [support]
  solved_rate:
    title: Solved rate
    dataset: tickets
    formula: count(where solved) / count()
    format: percent
    target: 0.7
    warning: 0.5
    tags: [support, quality]
  solved:
    dataset: tickets
    formula: count(where solved)
    format: integer
    target: 3
  unsolved:
    title: Unsolved <script>alert("x")</script> & co
    description: Opened <img src=x onerror=alert(1)> but not solved.
    formula: volume - solved
    format: integer
  score:
    title: Survey score
    dataset: surveys
    formula: avg(score)
    decimals: 1
    target: 4
"""

#: the KPIs of DEFINITIONS, in order (none is hidden)
NAMES = ["volume", "solved_rate", "solved", "unsolved", "score"]


def month_start(today: dt.date, back: int) -> dt.datetime:
    """Noon of the first day of the month ``back`` months before ``today``'s."""
    index = today.year * 12 + today.month - 1 - back
    return T(index // 12, index % 12 + 1, 1, 12)


def label(today: dt.date, back: int) -> str:
    return month_start(today, back).date().isoformat()


def recent_tables(today: dt.date) -> dict:
    """Tickets: one unsolved north ticket a month from M-15 to M-4; then
    M-3: 4 tickets, 2 solved; M-2: 5 tickets, 4 solved; M-1: 2 tickets (north solved, south not);
    M (in progress): 3 tickets, all solved. Surveys: M-5 scores 4 and 2, M-4 3, M-3 5 and 4."""
    m = lambda back, hours=0: month_start(today, back) + dt.timedelta(hours=hours)  # noqa: E731
    tickets = [(m(back), "north", False) for back in range(15, 3, -1)]
    tickets += [(m(3), "north", True), (m(3, 1), "south", True), (m(3, 2), "north", False), (m(3, 3), "south", False)]
    tickets += [(m(2), "north", True), (m(2, 1), "north", True), (m(2, 2), "south", True), (m(2, 3), "south", True),
                (m(2, 4), "south", False)]
    tickets += [(m(1), "north", True), (m(1, 1), "south", False)]
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    first = T(now.year, now.month, 1)
    tickets += [(first, "north", True), (first, "south", True), (first, "south", True)]
    surveys = [(m(5), 4.0), (m(5, 1), 2.0), (m(4), 3.0), (m(3), 5.0), (m(3, 1), 4.0)]
    return {
        "tickets": (["ticket_id", "created_at", "region", "solved"],
                    [(i + 1, *row) for i, row in enumerate(tickets)]),
        "surveys": (["survey_id", "answered_at", "score"], [(i + 1, *row) for i, row in enumerate(surveys)]),
    }


#: the tiles of the recent project, worked out by hand: the headline is M-1 (M is in progress)
#: name -> (headline month back, formatted value, status, change text)
RECENT_TILES = {
    "volume": (1, "2", "ok", "-60.0%"),            # 2 against 5: (2 - 5) / 5; lower is better, 2 <= 3
    "solved_rate": (1, "50.0%", "warn", "-30.0 pp"),  # 1/2 against 4/5: points, not -37.5%; 0.5 <= 0.5 < 0.7
    "solved": (1, "1", "bad", "-75.0%"),           # 1 against 4; 1 < 3, no warning
    "unsolved": (1, "1", "none", "+0.0%"),         # 2 - 1 against 5 - 4; no target
    "score": (3, "4.5", "ok", "+50.0%"),           # its own range ends at M-3: (5 + 4) / 2 against 3
}

FIXED_TABLES = {
    # January 3 tickets (2 solved), February 1 (1), March 2 (0), April 4 (4), May 1 (0), June 2 (1)
    "tickets": (["ticket_id", "created_at", "region", "solved"], [
        (1, T(2025, 1, 5), "north", True), (2, T(2025, 1, 6), "south", True), (3, T(2025, 1, 7), "south", False),
        (4, T(2025, 2, 10), "north", True),
        (5, T(2025, 3, 3), "north", False), (6, T(2025, 3, 30), "south", False),
        (7, T(2025, 4, 1), "north", True), (8, T(2025, 4, 2), "north", True), (9, T(2025, 4, 3), "south", True),
        (10, T(2025, 4, 4), "south", True),
        (11, T(2025, 5, 20), "north", False),
        (12, T(2025, 6, 1), "north", True), (13, T(2025, 6, 30, 23), "south", False),
    ]),
    "surveys": (["survey_id", "answered_at", "score"], [
        (1, T(2025, 2, 1), 3.0), (2, T(2025, 5, 1), 5.0), (3, T(2025, 6, 2), 4.0), (4, T(2025, 6, 3), 4.0),
    ]),
}

#: by hand, name -> (formatted value, status): month grain, headline June 2025
FIXED_MONTH = {
    "volume": ("2", "ok"),                # June: 2 tickets <= 3
    "solved_rate": ("50.0%", "warn"),     # 1 of 2
    "solved": ("1", "bad"),
    "unsolved": ("1", "none"),
    "score": ("4.0", "ok"),               # June: (4 + 4) / 2
}
#: quarter grain, headline 2025-Q2 (April to June)
FIXED_QUARTER = {
    "volume": ("7", "bad"),               # 4 + 1 + 2 > 3, no warning
    "solved_rate": ("71.4%", "ok"),       # 5 of 7 = 0.714... >= 0.7
    "solved": ("5", "ok"),                # 4 + 0 + 1 >= 3
    "unsolved": ("2", "none"),
    "score": ("4.3", "ok"),               # (5 + 4 + 4) / 3 = 4.33
}
