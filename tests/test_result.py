"""Result's conversions to other libraries, which are optional dependencies."""

from __future__ import annotations

import sys

import pytest

from kpi_engine.result import Result


@pytest.mark.parametrize(("method", "module", "message"), [
    ("to_pandas", "pandas", "to_pandas() needs pandas: pip install 'kpi-engine[pandas]'"),
    ("to_arrow", "pyarrow", "to_arrow() needs pyarrow: pip install 'kpi-engine[arrow]'"),
])
def test_a_missing_optional_dependency_says_how_to_install_it(monkeypatch, method, module, message):
    monkeypatch.setitem(sys.modules, module, None)  # as if it were not installed: importing it fails
    with pytest.raises(ImportError) as info:
        getattr(Result(["period"], [("2025-01-01",)], "select 1"), method)()
    assert str(info.value) == message
