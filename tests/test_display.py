"""A KPI's display fields are declared once, in ``KpiDisplay``: a cached ``kpi run`` (which has only
those) shows exactly what a full run (which has the whole ``Kpi``) shows."""

from __future__ import annotations

import dataclasses

import pytest

from kpi_engine.cli.output import render_result
from kpi_engine.definitions.model import Kpi
from kpi_engine.result import Result
from kpi_engine.status import DISPLAY_FIELDS, KpiDisplay


def kpi(name: str, **fields) -> Kpi:
    model = Kpi(formula="1", **fields)
    model._name = name  # as the definition files name it
    return model


KPIS = [
    kpi("rate", format="percent", target=0.8, warning=0.7),
    kpi("revenue", format="currency", unit="BRL", target=1000),
    kpi("handle", format="duration", direction="lower", target=300),
    kpi("tickets", format="integer"),
    kpi("score", decimals=3, unit="pts", target=3, direction="none"),
]
COLUMNS = ["period", "rate", "revenue", "handle", "tickets", "score"]
ROWS = [("2025-01-01", 0.75, 1234.5, 245, 12.4, 2.5)]


class Recording:
    """A KPI that notes which of its attributes are read."""

    def __init__(self, kpi: Kpi, seen: set[str]) -> None:
        self._kpi = kpi
        self._seen = seen

    def __getattr__(self, name: str):
        self._seen.add(name)
        return getattr(self._kpi, name)


def shown(kpis: dict) -> dict[str, str]:
    """Everything the command prints for the rows, in each format, with and without --status."""
    result = Result(COLUMNS, ROWS, "select 1", kpis)
    return {f"{fmt}{' --status' if status else ''}": render_result(result.with_status() if status else result, fmt)
            for fmt in ("table", "csv", "json") for status in (False, True)}


def test_every_display_field_is_a_kpi_field_with_the_same_default():
    assert DISPLAY_FIELDS[0] == "name" and isinstance(Kpi.__dict__["name"], property)
    for field in dataclasses.fields(KpiDisplay)[1:]:
        assert Kpi.model_fields[field.name].default == field.default, field.name


def test_display_copies_every_display_field():
    model = kpi("late", format="currency", decimals=3, unit="BRL", target=10, warning=12, direction="lower")
    assert model.display() == KpiDisplay("late", "currency", 3, "BRL", 10.0, 12.0, "lower")


def test_output_and_status_read_only_display_fields():
    seen: set[str] = set()
    full = shown({k.name: Recording(k, seen) for k in KPIS})
    assert {"format", "decimals", "unit", "target"} <= seen  # the recording is not empty
    assert seen - {"status"} <= set(DISPLAY_FIELDS)  # status() is KpiDisplay's too
    assert full == shown({k.name: k.display() for k in KPIS})


def test_the_values_as_shown():
    result = Result(COLUMNS, ROWS, "select 1", {k.name: k.display() for k in KPIS}).with_status()
    # rate 0.75: below target 0.8, at or above warning 0.7; revenue 1234.5 >= 1000; handle 245 <= 300 (lower);
    # tickets has no target; score's direction none judges nothing
    assert result.to_dicts() == [{
        "period": "2025-01-01", "rate": 0.75, "rate__status": "warn", "revenue": 1234.5, "revenue__status": "ok",
        "handle": 245, "handle__status": "ok", "tickets": 12.4, "score": 2.5, "score__status": None,
    }]
    table = render_result(result, "table").splitlines()
    assert table[2].split() == ["2025-01-01", "75.0%", "warn", "1,234.50", "BRL", "ok", "4m", "05s", "ok", "12",
                                "2.500", "pts", "-"]


@pytest.mark.parametrize("field", DISPLAY_FIELDS[1:])
def test_a_display_field_reaches_the_cached_display(field):
    """Each display field changed alone changes the display: none is dropped on the way."""
    changed = {"format": "percent", "decimals": 5, "unit": "EUR", "target": 1.5, "warning": 0.5,
               "direction": "lower"}[field]
    assert getattr(kpi("x", **{field: changed}).display(), field) == changed
