"""``kpi check``: every KPI with a target in its last complete month, its status and change (``summary``),
and the summary sent to a webhook and to the channels notifier plugins add (``delivery``).

For cron and CI: the command prints the summary, exits 4 when a KPI is at or beyond ``--fail-on``, and 3
when a channel failed to deliver it.
"""

from __future__ import annotations

from .delivery import NotifyError, check_url, deliver, post_json
from .summary import Checked, NothingToCheck, evaluate, render, select, summary, worst

__all__ = ["Checked", "NothingToCheck", "NotifyError", "check_url", "deliver", "evaluate", "post_json", "render",
           "select", "summary", "worst"]
