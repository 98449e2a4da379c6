"""Shares of a total: a KPI that reads ``total()`` is 100% of itself without ``--by``.

The report still shows its value (as ``kpi run`` does) and says which breakdown makes it mean
something; the text scorecard of ``kpi demo`` leaves it blank with a footnote.
"""

from __future__ import annotations

from ..formulas.binder import atoms_of
from ..project import Project

__all__ = ["is_share", "suggested_dimension"]


def is_share(project: Project, name: str) -> bool:
    """Whether a KPI reads a ``total()``: then, without ``--by``, it compares a number with itself."""
    return any(atom.total for atom in atoms_of(project.binder.metric(name)))


def suggested_dimension(project: Project, name: str) -> str:
    """A dimension every dataset of the KPI defines: the one its name mentions, else the first."""
    datasets = [project.datasets[d] for d in dict.fromkeys(a.dataset for a in atoms_of(project.binder.metric(name)))]
    common = [d for d in datasets[0].dimensions if all(d in other.dimensions for other in datasets[1:])]
    named = [d for d in common if d in name.split("_")]
    return (named or common or ["DIMENSION"])[0]
