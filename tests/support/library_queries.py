"""Which KPIs of a project a query can ask for, and how results are compared with the reference."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

import kpi_engine
from kpi_engine.formulas.binder import atoms_of


def queryable(project: kpi_engine.Project, by: Sequence[str]) -> list[str]:
    """The KPIs that can be queried with these dimensions (each dataset they read defines them)."""
    names = []
    for name in project.kpis:
        datasets = {a.dataset for a in atoms_of(project.binder.metric(name))}
        if all(set(by) <= set(project.catalog.datasets[d].model.dimensions) for d in datasets):
            names.append(name)
    return names


def without_periods(project: kpi_engine.Project, name: str) -> bool:
    """Whether a KPI means something at grain ``all`` (no shift, window or stock)."""
    return not any(a.shift or a.window or a.at for a in atoms_of(project.binder.metric(name)))


def approx(rows: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
    """Expected rows with floats compared to 1e-9 (engines sum floats in other orders)."""
    return [tuple(pytest.approx(v, rel=1e-9, abs=1e-9) if isinstance(v, float) else v for v in row) for row in rows]
