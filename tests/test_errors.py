"""The one builder of "unknown X 'y'; did you mean 'z'?" messages, and its variants."""

from __future__ import annotations

import pytest

from kpi_engine.errors import unknown

KPIS = ["opened", "resolved"]
# difflib's ratio is 2 * matching characters / both lengths: 'opend' ~ 'opened' 2*5/11 = 0.91,
# 'opnd' ~ 'opened' 2*4/10 = 0.8; 'OPND' and 'zzz' share no character with either KPI


@pytest.mark.parametrize(("name", "options", "message"), [
    pytest.param("opend", {}, "unknown KPI 'opend'; did you mean 'opened'?", id="close"),
    pytest.param("zzz", {}, "unknown KPI 'zzz'", id="nothing close"),
    pytest.param("OPENED", {}, "unknown KPI 'OPENED'; did you mean 'opened'?", id="other case"),
    pytest.param("opened", {}, "unknown KPI 'opened'", id="the name itself is no suggestion"),
    pytest.param("opend", {"where": " in file 'a.yml'"}, "unknown KPI 'opend' in file 'a.yml'; did you mean 'opened'?",
                 id="where before the suggestion"),
    pytest.param("zzz", {"otherwise": " (KPIs: opened, resolved)"}, "unknown KPI 'zzz' (KPIs: opened, resolved)",
                 id="otherwise when nothing is close"),
    pytest.param("opend", {"otherwise": " (KPIs: opened, resolved)"}, "unknown KPI 'opend'; did you mean 'opened'?",
                 id="no otherwise with a suggestion"),
    pytest.param("opend", {"head": "KPI 'opend' is not defined"}, "KPI 'opend' is not defined; did you mean 'opened'?",
                 id="head in other words"),
    pytest.param("OPND", {"match": "opnd"}, "unknown KPI 'OPND'; did you mean 'opened'?",
                 id="matched lower-cased, shown as given"),
    pytest.param("OPND", {}, "unknown KPI 'OPND'", id="shown and matched as given"),
    pytest.param("opnd", {}, "unknown KPI 'opnd'; did you mean 'opened'?", id="close enough by default"),
    pytest.param("opnd", {"cutoff": 0.9}, "unknown KPI 'opnd'", id="not close enough for a higher cutoff"),
])
def test_unknown(name, options, message):
    assert unknown("KPI", name, KPIS, **options) == message
