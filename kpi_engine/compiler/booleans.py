"""Which result columns hold booleans, for engines that return them as 0/1 (SQLite).

SQLite has no boolean type: ``status = 'open'`` and a column declared BOOLEAN both come back as
0/1, where every other engine returns true/false. A column is boolean by construction when its
expression is a predicate (a comparison, ``and``/``or``/``not``, ``is null``, ``in``, ``between``,
``like``, ``true``/``false``), or when it is a bare column the source declares boolean; the
second part can only be answered by the source, so it is kept as the (dataset, column) pairs to
ask about.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..formulas import syntax as f
from ..formulas.binder import AtomRef
from ..definitions.catalog import Catalog

__all__ = ["Boolean", "boolean_kind", "combine"]

#: True: a boolean whatever the source; False: not one; a tuple: boolean when every
#: (dataset, column) of it is declared boolean by the source.
Boolean = bool | tuple[tuple[str, str], ...]

_PREDICATES = (f.Not, f.IsNull, f.InList, f.Between, f.Like, f.Boolean)
_BOOLEAN_OPS = frozenset({"=", "!=", "<", "<=", ">", ">=", "and", "or"})


def combine(kinds: Iterable[Boolean]) -> Boolean:
    """The kind of a value that is one of several (branches of if(), datasets of a dimension)."""
    refs: list[tuple[str, str]] = []
    for kind in kinds:
        if kind is False:
            return False
        if kind is not True:
            refs.extend(kind)
    return tuple(dict.fromkeys(refs)) if refs else True


def boolean_kind(node: f.Node, dataset: str | None, catalog: Catalog) -> Boolean:
    """Whether a bound row expression or metric tree gives booleans."""
    if isinstance(node, _PREDICATES) or (isinstance(node, f.Binary) and node.op in _BOOLEAN_OPS):
        return True
    if isinstance(node, f.Ref) and dataset is not None:
        if node.qualifier is None:
            return ((dataset, node.name),)
        join = catalog.datasets[dataset].model.joins.get(node.qualifier)
        return ((join.dataset, node.name),) if join is not None else False
    if isinstance(node, AtomRef) and node.atom is not None:
        atom = node.atom
        if atom.func in ("min", "max") and atom.arg is not None:
            return boolean_kind(atom.arg, atom.dataset, catalog)
        return False
    if isinstance(node, f.Call):
        branches = {"if": node.args[1:], "coalesce": node.args, "nullif": node.args[:1]}.get(node.name)
        if branches:
            return combine(boolean_kind(b, dataset, catalog) for b in branches if not isinstance(b, f.Null))
    return False
