"""Give formulas their meaning: which names are columns, joins, KPIs and aggregates.

Two levels (SPEC §4):

- a *row expression* (inside an aggregate, a dimension, a filter) reads the
  columns of one dataset and of its joins: ``status``, ``customer.plan``;
- a *metric* (the top level of a formula) combines aggregate values, numbers
  and other KPIs: ``count(where solved) / count()``, ``arpu / churn_rate``.

Binding resolves every name and checks every rule of SPEC §4.4 before any SQL
is written. Its product is a metric tree whose leaves are :class:`AtomRef`: an
aggregate with everything that decides its value (dataset, condition, KPI
filter, time column, stock instant, period shift, window, total). KPI
references are inlined, and ``previous``/``rolling``/``to_date``/
``cumulative``/``total`` are pushed down into the atoms, so the compiler only
sees atoms and arithmetic.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from . import syntax as f
from ..definitions.catalog import Catalog, DatasetEntry, KpiEntry
from ..errors import DefinitionError, KpiError, Span, unknown
from .functions import AGGREGATES, WINDOWS
from .parser import parse_formula

__all__ = ["Atom", "AtomRef", "Binder", "PeriodDays", "Step", "Window", "atoms_of", "map_atoms", "rebuild"]

GRAINS_TO_DATE = ("week", "month", "quarter", "year", "fiscal_quarter", "fiscal_year")
#: the units of previous(x, n, unit)
SHIFT_UNITS = ("day", "week", "month", "quarter", "year")


@dataclass(frozen=True, slots=True)
class Step:
    """One previous(): n periods of the query's grain back, or the period holding the day n units back.

    Which it means in periods depends on the query's grain (12 periods for a year at month grain, 52
    or 53 for a year at week grain), so the compiler resolves it, and reports a unit finer than the
    grain at ``span``, the previous() or growth() call (not part of an atom's identity)."""

    n: int
    unit: str | None = None  # None: periods of the query's grain
    span: Span | None = field(default=None, compare=False, repr=False)

    def describe(self) -> str:
        return f"previous(..., {self.n}, {self.unit})" if self.unit else f"previous(..., {self.n})"


@dataclass(frozen=True, slots=True)
class Window:
    """Which rows an aggregate reads around its period."""

    kind: str  # "rolling" | "to_date" | "cumulative"
    periods: int = 0
    grain: str | None = None

    def describe(self) -> str:
        if self.kind == "rolling":
            return f"rolling(..., {self.periods})"
        if self.kind == "to_date":
            return f"to_date(..., {self.grain})"
        return "cumulative(...)"


@dataclass(frozen=True, slots=True)
class Atom:
    """One aggregate value: the unit the compiler plans, shares and computes."""

    func: str
    dataset: str
    arg: f.Node | None = None
    condition: f.Node | None = None
    kpi_filter: f.Node | None = None
    time: str | None = None
    at: str | None = None
    fraction: Decimal | None = None
    #: previous() steps, the outermost first (the order they are applied to the current period)
    shift: tuple[Step, ...] = ()
    window: Window | None = None
    total: bool = False


@dataclass(frozen=True, slots=True)
class AtomRef(f.Node):
    """A metric-tree leaf standing for an aggregate value."""

    atom: Atom | None = None


@dataclass(frozen=True, slots=True)
class PeriodDays(f.Node):
    """A metric-tree leaf: the number of days in the period (period_days())."""


class _Failed(Exception):
    """A definition that already reported its error; stops dependents quietly."""


def rebuild(node: f.Node, fn: Callable[[f.Node], f.Node]) -> f.Node:
    """The node with ``fn`` applied to each direct child."""
    changes = {}
    for member in dataclasses.fields(node):
        value = getattr(node, member.name)
        if isinstance(value, f.Node):
            changes[member.name] = fn(value)
        elif isinstance(value, tuple) and value and isinstance(value[0], f.Node):
            changes[member.name] = tuple(fn(item) for item in value)
    return dataclasses.replace(node, **changes) if changes else node


def map_atoms(node: f.Node, fn: Callable[[Atom], Atom]) -> f.Node:
    """The metric tree with ``fn`` applied to every atom."""
    if isinstance(node, AtomRef):
        assert node.atom is not None
        return dataclasses.replace(node, atom=fn(node.atom))
    return rebuild(node, lambda child: map_atoms(child, fn))


def atoms_of(node: f.Node) -> list[Atom]:
    """Every atom of a metric tree, in order, without repeats."""
    seen: dict[Atom, None] = {}
    for item in f.walk(node):
        if isinstance(item, AtomRef) and item.atom is not None:
            seen.setdefault(item.atom, None)
    return list(seen)


@dataclass(slots=True)
class _KpiContext:
    entry: KpiEntry
    text: f.FormulaText
    dataset: str | None
    kpi_filter: f.Node | None


class Binder:
    """Binds the formulas of a catalog; results are memoised per KPI and dimension."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._metrics: dict[str, f.Node] = {}
        self._failed: dict[str, KpiError] = {}
        self._filters: dict[str, f.Node | None] = {}
        self._dimensions: dict[tuple[str, str], f.Node] = {}
        self._stack: list[str] = []
        #: every column a definition reads: (dataset, column, text, node), for checks against a live source
        self.usages: list[tuple[str, str, f.FormulaText, f.Node]] = []

    # ------------------------------------------------------------------ public
    def metric(self, name: str) -> f.Node:
        """The bound metric tree of a KPI (raises its first error)."""
        try:
            return self._metric(name, None, None)
        except _Failed:
            raise self._failed[name] from None

    def uses(self, name: str) -> list[str]:
        """The KPIs a KPI's formula names directly (outside aggregates), in order."""
        entry = self.catalog.kpis[name]
        names: list[str] = []
        stack = [parse_formula(f.FormulaText.of(entry, "formula"))]
        while stack:
            node = stack.pop()
            if isinstance(node, f.Call) and node.name in self.catalog.functions \
                    and self.catalog.functions[node.name].kind == "aggregate":
                continue
            if isinstance(node, f.Ref) and node.qualifier is None and node.name in self.catalog.kpis:
                names.append(node.name)
            stack.extend(reversed(list(node.children())))
        return list(dict.fromkeys(names))

    def datasets_of(self, name: str) -> list[str]:
        """The datasets a KPI reads (its aggregates' and those of the KPIs it uses), in order."""
        return list(dict.fromkeys(atom.dataset for atom in atoms_of(self.metric(name))))

    def kpi_filter(self, name: str) -> f.Node | None:
        self.metric(name)
        return self._filters.get(name)

    def dimension(self, dataset: str, name: str) -> f.Node:
        """The bound row expression of a dimension of a dataset."""
        key = (dataset, name)
        if key not in self._dimensions:
            entry = self.catalog.datasets[dataset]
            text = f.FormulaText.of(entry, "dimensions", name, label="dimension")
            node = parse_formula(text)
            bound = self.bind_row(node, text, dataset, "a dimension")
            self._check_size(bound, text, (0, len(text.text)))
            self._dimensions[key] = bound
        return self._dimensions[key]

    def check_dataset(self, entry: DatasetEntry) -> list[KpiError]:
        """Every problem of one dataset's joined datasets and dimensions (its join aliases: ``validation``)."""
        errors: list[KpiError] = []
        datasets = self.catalog.datasets
        for alias, join in entry.model.joins.items():
            if join.dataset not in datasets and not self.catalog.missing(join.dataset):
                errors.append(_error(entry.span("joins", alias, "dataset"),
                                     unknown("dataset", join.dataset, datasets), "unknown-dataset"))
        for name in entry.model.dimensions:
            try:
                self.dimension(entry.name, name)
            except KpiError as exc:
                errors.append(exc)
        return errors

    # --------------------------------------------------------------- KPIs
    def _metric(self, name: str, ref: f.Ref | None, ref_text: f.FormulaText | None) -> f.Node:
        if name in self._metrics:
            return self._metrics[name]
        if name in self._failed:
            raise _Failed
        if name in self._stack:
            cycle = self._stack[self._stack.index(name):] + [name]
            assert ref is not None and ref_text is not None
            error = ref_text.error(ref, "KPI references form a cycle: " + " → ".join(cycle), code="cycle")
            for member in cycle[:-1]:
                self._failed.setdefault(member, error)
            raise _Failed
        entry = self.catalog.kpis[name]
        self._stack.append(name)
        try:
            tree = self._bind_kpi(entry)
        except KpiError as exc:
            self._failed[name] = exc
            raise _Failed from None
        except _Failed:
            if name not in self._failed:
                self._failed[name] = KpiError(f"KPI '{name}' depends on a KPI with errors")
            raise
        finally:
            self._stack.pop()
        self._metrics[name] = tree
        return tree

    def _bind_kpi(self, entry: KpiEntry) -> f.Node:
        model = entry.model
        datasets = self.catalog.datasets
        if model.dataset is not None and model.dataset not in datasets and self.catalog.missing(model.dataset):
            raise _Failed
        if model.dataset is not None and model.dataset not in datasets:
            raise _error(entry.span("dataset"), unknown("dataset", model.dataset, datasets), "unknown-dataset")
        kpi_filter = None
        if model.filter is not None:
            filter_text = f.FormulaText.of(entry, "filter", label="filter")
            if model.dataset is None:
                raise filter_text.error((0, len(model.filter)),
                                        "a filter needs the KPI's dataset: add 'dataset:'", code="no-dataset")
            kpi_filter = self.bind_row(parse_formula(filter_text), filter_text, model.dataset, "a filter")
        self._filters[entry.name] = kpi_filter
        text = f.FormulaText.of(entry, "formula")
        node = parse_formula(text)
        tree = self._bind_metric(node, _KpiContext(entry, text, model.dataset, kpi_filter))
        self._check_size(tree, text, (0, len(text.text)))
        return tree

    def _bind_metric(self, node: f.Node, ctx: _KpiContext) -> f.Node:
        text = ctx.text
        if isinstance(node, f.Ref):
            if node.qualifier is not None:
                raise text.error(node, f"column '{node.dotted}' is outside an aggregate",
                                 hint=f"aggregate it, e.g. sum({node.dotted}) or count_distinct({node.dotted})",
                                 code="bare-column")
            if node.name not in self.catalog.kpis and self.catalog.missing(node.name):
                raise _Failed  # its own error is reported where it is defined
            if node.name not in self.catalog.kpis:
                hint = None
                if ctx.dataset is not None:
                    hint = f"a column must be inside an aggregate, e.g. sum({node.name})"
                message = unknown("KPI", node.name, self.catalog.kpis)
                raise text.error(node, message, hint=hint, code="unknown-kpi")
            return self._metric(node.name, node, text)
        if isinstance(node, f.Star):
            raise text.error(node, "'*' can only be the argument of count()", code="syntax")
        if isinstance(node, f.Call):
            spec = self._function(node, text)
            if spec.kind == "aggregate":
                return self._bind_aggregate(node, ctx)
            if spec.kind == "window":
                return self._bind_window(node, ctx)
            self._check_call(node, text, spec, allow_named=False)
            if spec.kind == "period":
                return PeriodDays(node.start, node.end)
            return rebuild(node, lambda child: self._bind_metric(child, ctx))
        return rebuild(node, lambda child: self._bind_metric(child, ctx))

    # ------------------------------------------------------------ windows
    def _bind_window(self, call: f.Call, ctx: _KpiContext) -> f.Node:
        text = ctx.text
        spec = WINDOWS[call.name]
        self._check_call(call, text, spec, allow_named=False)
        inner = self._bind_metric(call.args[0], ctx)
        name = call.name
        if name in ("previous", "growth"):
            step = self._step(call, text)
            before = map_atoms(inner, lambda a: dataclasses.replace(a, shift=(step, *a.shift)))
            if name == "previous":
                return before
            diff = f.Binary(call.start, call.end, op="-", left=inner, right=before)
            return f.Binary(call.start, call.end, op="/", left=diff, right=before)
        if name == "total":
            return map_atoms(inner, lambda a: dataclasses.replace(a, total=True))
        if name == "rolling":
            n = _positive_int(call.args[1], text, "rolling()", "periods")
            window = Window("rolling", periods=n) if n > 1 else None
        elif name == "to_date":
            window = Window("to_date", grain=self._grain_arg(call.args[1], text))
        else:
            window = Window("cumulative")

        def set_window(atom: Atom) -> Atom:
            if atom.at is not None:
                raise text.error(call.name_span, f"{name}() cannot apply to a stock aggregate (at={atom.at}): "
                                 "it already reads the rows active at one instant", code="bad-window")
            if atom.window is not None:
                raise text.error(call.name_span, f"{name}() cannot contain {atom.window.describe()}", code="bad-window")
            return dataclasses.replace(atom, window=window) if window else atom

        return map_atoms(inner, set_window)

    def _step(self, call: f.Call, text: f.FormulaText) -> Step:
        """previous(x[, n[, unit]]) and growth(x[, n[, unit]])."""
        what = f"{call.name}()"
        n = _positive_int(call.args[1], text, what, "units" if len(call.args) > 2 else "periods") \
            if len(call.args) > 1 else 1
        unit = self._name_arg(call.args[2], text, f"{what} unit", SHIFT_UNITS) if len(call.args) > 2 else None
        return Step(n, unit, text.span(call))

    def _grain_arg(self, node: f.Node, text: f.FormulaText) -> str:
        return self._name_arg(node, text, "to_date() grain", GRAINS_TO_DATE)

    @staticmethod
    def _name_arg(node: f.Node, text: f.FormulaText, what: str, choices: tuple[str, ...]) -> str:
        """A word argument (a grain, a unit), bare or quoted."""
        value = node.name if isinstance(node, f.Ref) and node.qualifier is None else (
            node.value if isinstance(node, f.String) else None)
        if value is None or value.lower() not in choices:
            shown = value if value is not None else "this"
            head = f"{what} must be one of {', '.join(choices)}; got '{shown}'"
            message = unknown(what.split()[-1], str(value), choices if value else (), head=head)
            raise text.error(node, message, code="bad-argument")
        return value.lower()

    # --------------------------------------------------------- aggregates
    def _bind_aggregate(self, call: f.Call, ctx: _KpiContext) -> f.Node:
        text = ctx.text
        spec = AGGREGATES[call.name]
        self._check_call(call, text, spec, allow_named=True)
        named = {arg.name.lower(): arg for arg in call.named}
        dataset = self._aggregate_dataset(call, ctx)
        entry = self.catalog.datasets[dataset]

        def row(node: f.Node) -> f.Node:
            return self.bind_row(node, text, dataset, "an aggregate", in_aggregate=call)

        arg: f.Node | None = None
        fraction: Decimal | None = None
        first = call.args[0] if call.args else None
        _named_argument_first(call, first, text)
        if isinstance(first, f.Star):
            if call.name != "count":
                raise text.error(first, f"'*' can only be the argument of count(), not {call.name}()", code="syntax")
        elif first is not None:
            arg = row(first)
        if call.name == "percentile":
            fraction = _fraction(call.args[1], text)
        condition = row(call.where) if call.where is not None else None

        time: str | None = None
        if "time" in named:
            time = self._column_name(named["time"].value, text, dataset, "time=")
        at: str | None = None
        if "at" in named:
            value = named["at"].value
            word = value.name if isinstance(value, f.Ref) and value.qualifier is None else (
                value.value if isinstance(value, f.String) else None)
            if word is None or word.lower() not in ("start", "end"):
                raise text.error(value, "at= takes start or end", code="bad-argument")
            at = word.lower()
            if entry.model.active is None:
                raise text.error(named["at"], f"at={at} needs 'active:' (from/to columns) on dataset '{dataset}'",
                                 hint="add active: {from: <column>, to: <column>} to the dataset",
                                 code="no-active")
            if time is not None:
                raise text.error(named["time"], "time= and at= cannot be combined: a stock aggregate "
                                 "places rows by their active span", code="bad-argument")
        kpi_filter = ctx.kpi_filter if dataset == ctx.dataset else None
        atom = Atom(call.name, dataset, arg, condition, kpi_filter, time, at, fraction)
        return AtomRef(call.start, call.end, atom=atom)

    def _aggregate_dataset(self, call: f.Call, ctx: _KpiContext) -> str:
        """The one dataset an aggregate reads (SPEC §4.1)."""
        text = ctx.text
        datasets = self.catalog.datasets
        own = ctx.dataset
        own_joins = datasets[own].model.joins if own is not None else {}
        foreign: dict[str, f.Node] = {}
        for node in _aggregate_parts(call):
            qualifier = node.qualifier if isinstance(node, (f.Ref, f.Star)) else None
            if qualifier is None or qualifier == own or qualifier in own_joins:
                continue
            if qualifier not in datasets and self.catalog.missing(qualifier):
                raise _Failed
            if qualifier not in datasets:
                kind = "dataset or join" if own_joins else "dataset"
                raise text.error((node.start, node.start + len(qualifier)),
                                 unknown(kind, qualifier, [*datasets, *own_joins]), code="unknown-dataset")
            foreign.setdefault(qualifier, node)
        if len(foreign) > 1:
            names = " and ".join(f"'{n}'" for n in foreign)
            raise text.error(call, f"one aggregate reads one dataset; this one reads {names}",
                             hint="split it into one aggregate per dataset", code="two-datasets")
        if foreign:
            return next(iter(foreign))
        if own is None:
            raise text.error(call, f"{call.name}() reads no dataset: the KPI has no 'dataset:'",
                             hint="add 'dataset:' to the KPI, or name it: count(tickets.*), sum(orders.amount)",
                             code="no-dataset")
        return own

    def _column_name(self, node: f.Node | None, text: f.FormulaText, dataset: str, what: str) -> str:
        if isinstance(node, f.Ref) and (node.qualifier is None or node.qualifier == dataset):
            self.usages.append((dataset, node.name, text, node))
            return node.name
        raise text.error(node or (0, 1), f"{what} takes a column of dataset '{dataset}'", code="bad-argument")

    # ------------------------------------------------------- row level
    def bind_row(
        self,
        node: f.Node,
        text: f.FormulaText,
        dataset: str,
        what: str,
        *,
        in_aggregate: f.Call | None = None,
    ) -> f.Node:
        """Check a row expression over ``dataset`` and normalise its column references.

        A column of the dataset becomes ``Ref(name)``; a joined column becomes
        ``Ref(name, qualifier=alias)``; so equal meanings compare equal.
        """
        joins = self.catalog.datasets[dataset].model.joins

        def column(item: f.Ref) -> f.Node:
            if item.qualifier is None or item.qualifier == dataset:
                self.usages.append((dataset, item.name, text, item))
                return f.Ref(item.start, item.end, name=item.name)
            if item.qualifier in joins:
                self.usages.append((joins[item.qualifier].dataset, item.name, text, item))
                return item
            raise text.error((item.start, item.start + len(item.qualifier)),
                             unknown("join", item.qualifier, joins, where=f" of dataset '{dataset}'"),
                             code="unknown-join")

        return self._bind_rows(node, text, what, column, in_aggregate)

    def bind_where(self, text: f.FormulaText, datasets: Sequence[str]) -> f.Node:
        """A query's --where: a row condition over dimension names defined on every dataset the query
        reads (each name stays a Ref; the compiler puts each dataset's expression in its place)."""
        node = parse_formula(text)
        defined = self.catalog.datasets
        known = sorted({d for ds in datasets for d in defined[ds].model.dimensions})

        def dimension(item: f.Ref) -> f.Node:
            if item.qualifier is not None:
                raise text.error(item, f"--where reads dimensions only, not '{item.dotted}'",
                                 hint="define it as a dimension of the dataset", code="bad-where")
            for ds in datasets:
                if item.name not in defined[ds].model.dimensions:
                    raise text.error(item, unknown("dimension", item.name, known, where=f" on dataset '{ds}'"),
                                     code="unknown-dimension")
            return item

        return self._bind_rows(node, text, "--where", dimension, None)

    def _bind_rows(self, node: f.Node, text: f.FormulaText, what: str, ref: Callable[[f.Ref], f.Node],
                   in_aggregate: f.Call | None) -> f.Node:
        """The checks of every row expression (no aggregate or period function, known functions with their
        arguments), with ``ref`` giving each name its meaning."""

        def bind(item: f.Node) -> f.Node:
            if isinstance(item, f.Ref):
                return ref(item)
            if isinstance(item, f.Star):
                raise text.error(item, "'*' can only be the argument of count()", code="syntax")
            if isinstance(item, f.Call):
                spec = self._function(item, text)
                if spec.kind == "aggregate":
                    if in_aggregate is not None:
                        raise text.error(item.name_span, f"aggregate {item.name}() inside aggregate {in_aggregate.name}()",
                                         hint="an aggregate's argument is a row expression; combine aggregates outside them",
                                         code="nested-aggregate")
                    raise text.error(item.name_span, f"aggregate {item.name}() is not allowed in {what}",
                                     code="aggregate-not-allowed")
                if spec.kind == "window":
                    place = f"inside aggregate {in_aggregate.name}()" if in_aggregate else f"in {what}"
                    raise text.error(item.name_span, f"{item.name}() is not allowed {place}; "
                                     "it applies to a whole formula: e.g. previous(count())", code="window-not-allowed")
                if spec.kind == "period":
                    place = f"inside aggregate {in_aggregate.name}()" if in_aggregate else f"in {what}"
                    raise text.error(item.name_span, f"{item.name}() is not allowed {place}: it is a number of the "
                                     "period, not of a row", hint="use it outside aggregates: count() / period_days()",
                                     code="period-not-allowed")
                self._check_call(item, text, spec, allow_named=False)
            return rebuild(item, bind)

        return bind(node)

    # ------------------------------------------------------------ helpers
    def _check_size(self, tree: f.Node, text: f.FormulaText, span: tuple[int, int]) -> None:
        """A bound formula (KPIs it uses inlined) whose SQL every stage and engine can take.

        Its depth is checked without recursion first; then the size of its SQL, where round(),
        least() and greatest() repeat their arguments (``FunctionSpec.copies``), so nesting them
        multiplies the query's size.
        """
        stack = [(tree, 1)]
        while stack:
            node, depth = stack.pop()
            if depth > MAX_BOUND_DEPTH:
                raise text.error(span, f"this formula, with the KPIs it uses, nests more than {MAX_BOUND_DEPTH} "
                                 "levels deep", hint="compute parts of it in fewer levels", code="too-deep")
            stack.extend((child, depth + 1) for child in _parts(node))
        size = _sql_size(tree, self.catalog.functions)
        if size > MAX_SQL_SIZE:
            repeating = sorted({n.name for n in f.walk(tree) if isinstance(n, f.Call) and n.name in self.catalog.functions
                                and self.catalog.functions[n.name].copies > 1})
            hint = (f"{', '.join(name + '()' for name in repeating)} repeat their argument in SQL, so nesting them "
                    "multiplies the query: nest fewer, or round once at the end") if repeating else \
                "split it into KPIs that refer to each other"
            raise text.error(span, f"this formula would write about {size:,} SQL terms; the limit is "
                             f"{MAX_SQL_SIZE:,}", hint=hint, code="too-large")

    def _function(self, call: f.Call, text: f.FormulaText):
        spec = self.catalog.functions.get(call.name.lower())
        if spec is None:
            raise text.error(call.name_span, unknown("function", call.name, self.catalog.functions),
                             code="unknown-function")
        if call.name != spec.name:
            raise text.error(call.name_span, f"function names are lower case: write {spec.name}()",
                             code="unknown-function")
        return spec

    def _check_call(self, call: f.Call, text: f.FormulaText, spec, *, allow_named: bool) -> None:
        n = len(call.args)
        if n < spec.min_args or (spec.max_args is not None and n > spec.max_args):
            raise text.error(call, spec.arity_message(), code="arity")
        if call.where is not None and spec.kind != "aggregate":
            raise text.error(call.where, f"'where' only goes inside an aggregate, not {call.name}()",
                             code="where-not-allowed")
        problem = spec.check(call) if spec.check is not None else None
        if problem is not None:
            raise text.error(problem[0], problem[1], code="bad-argument")
        seen: set[str] = set()
        for arg in call.named:
            key = arg.name.lower()
            if not allow_named or key not in spec.named:
                allowed = sorted(spec.named) if allow_named else []
                message = unknown("argument", arg.name, allowed, where=f" of {call.name}()")
                if not allowed:
                    message = f"{call.name}() takes no named argument '{arg.name}'"
                raise text.error((arg.start, arg.start + len(arg.name)), message, code="bad-argument")
            if key in seen:
                raise text.error(arg, f"{arg.name}= is given twice", code="bad-argument")
            seen.add(key)


#: deepest bound formula (KPI references inlined, aggregates' arguments included) compiled to SQL
MAX_BOUND_DEPTH = 160
#: largest SQL a formula may expand to, in expression nodes
MAX_SQL_SIZE = 20_000


def _parts(node: f.Node):
    """Children of a bound node, the row expressions of an aggregate included."""
    if isinstance(node, AtomRef) and node.atom is not None:
        atom = node.atom
        return [part for part in (atom.arg, atom.condition, atom.kpi_filter) if part is not None]
    return list(node.children())


def _sql_size(node: f.Node, functions) -> int:
    """The number of SQL nodes a bound tree becomes, roughly (within MAX_BOUND_DEPTH: recursion is safe).

    A function that repeats its arguments ``copies`` times also writes about 3 nodes per copy around them.
    """
    copies = functions[node.name].copies if isinstance(node, f.Call) and node.name in functions else 1
    own = 1 if copies == 1 else 3 * copies
    return own + copies * sum(min(_sql_size(child, functions), MAX_SQL_SIZE + 1) for child in _parts(node))


def _named_argument_first(call: f.Call, first: f.Node | None, text: f.FormulaText) -> None:
    """``count(at=end)`` compares columns at and end (SPEC §4): say what was meant."""
    if (isinstance(first, f.Binary) and first.op == "=" and isinstance(first.left, f.Ref)
            and first.left.qualifier is None and first.left.name.lower() in ("at", "time")):
        name = first.left.name.lower()
        value = first.right.name if isinstance(first.right, f.Ref) else "..."
        star = "*" if call.name == "count" else "x"
        raise text.error(first, f"'{name}={value}' as the first argument is a comparison of columns '{name}' and "
                         f"'{value}'; named arguments follow a first argument",
                         hint=f"write {call.name}({star}, {name}={value})", code="named-argument")


def _aggregate_parts(call: f.Call):
    for arg in (*call.args, *(n.value for n in call.named if n.value is not None)):
        yield from f.walk(arg)
    if call.where is not None:
        yield from f.walk(call.where)


#: previous() and rolling() read at most this many periods back (a spine row each, per dimension value)
MAX_PERIODS = 100_000


def _positive_int(node: f.Node, text: f.FormulaText, what: str, noun: str) -> int:
    if isinstance(node, f.Number) and node.value == node.value.to_integral_value() and 1 <= node.value <= MAX_PERIODS:
        return int(node.value)
    raise text.error(node, f"{what} takes a whole number of {noun} from 1 to {MAX_PERIODS:,} as its second argument",
                     code="bad-argument")


def _fraction(node: f.Node, text: f.FormulaText) -> Decimal:
    if isinstance(node, f.Number) and 0 <= node.value <= 1:
        return node.value
    raise text.error(node, "percentile() takes p between 0 and 1, e.g. percentile(x, 0.9)", code="bad-argument")


def _error(span, message: str, code: str) -> KpiError:
    return DefinitionError(message, span=span, code=code)

