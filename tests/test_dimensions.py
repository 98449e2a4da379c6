"""``kpi dimensions [KPI...]``: the dimensions a query may use, the datasets that define each and the KPIs
that may be broken down by it (a KPI whose every dataset defines the dimension).

    tickets:   channel, region            volume, solved (hidden)
    customers: region, plan              signups
    (both)                               per_signup = volume / signups: region only
    (none)                               goal = 100: no dimension
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from kpi_engine.cli import main

DEFINITIONS = """
datasets:
  tickets:
    table: tickets
    time: created_at
    dimensions:
      channel: channel
      region: region
  customers:
    table: customers
    time: signup_at
    dimensions:
      region: region
      plan: plan
kpis:
  volume:
    dataset: tickets
    formula: count()
  solved:
    dataset: tickets
    formula: "count(where status = 'solved')"
    hidden: true
  signups:
    dataset: customers
    formula: count()
  per_signup:
    formula: volume / signups
  goal:
    formula: "100"
"""


@pytest.fixture
def project_dir(write_project):
    # no database: listing dimensions reads the definitions only, it never opens the source
    return write_project({
        "kpi.yml": "name: dims\nsources:\n  default:\n    connector: duckdb\n    database: missing.duckdb\n",
        "definitions/main.yml": DEFINITIONS,
    })


def kpi(project_dir, *args):
    return CliRunner().invoke(main, ["--project", str(project_dir), "dimensions", *args])


def test_every_dimension_as_a_table(project_dir):
    result = kpi(project_dir)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "dimension  datasets            kpis",
        "---------  ------------------  -----------------------------------",
        "channel    tickets             volume, solved",
        "plan       customers           signups",
        "region     customers, tickets  volume, solved, signups, per_signup",
    ]
    assert not (project_dir / "missing.duckdb").exists()


def test_json_is_the_python_apis_list(project_dir):
    result = kpi(project_dir, "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [
        {"name": "channel", "datasets": ["tickets"], "kpis": ["volume", "solved"]},
        {"name": "plan", "datasets": ["customers"], "kpis": ["signups"]},
        {"name": "region", "datasets": ["customers", "tickets"], "kpis": ["volume", "solved", "signups", "per_signup"]},
    ]


@pytest.mark.parametrize("kpis, expected", [
    # customers defines plan and region
    (["signups"], [{"name": "plan", "datasets": ["customers"], "kpis": ["signups"]},
                   {"name": "region", "datasets": ["customers", "tickets"], "kpis": ["signups"]}]),
    # per_signup reads both datasets: only region is on both
    (["per_signup"], [{"name": "region", "datasets": ["customers", "tickets"], "kpis": ["per_signup"]}]),
    # each dimension that applies to one of them, with those of them it applies to
    (["per_signup", "volume"], [{"name": "channel", "datasets": ["tickets"], "kpis": ["volume"]},
                                {"name": "region", "datasets": ["customers", "tickets"],
                                 "kpis": ["per_signup", "volume"]}]),
    (["goal"], []),  # a constant reads no dataset
])
def test_the_dimensions_of_some_kpis(project_dir, kpis, expected):
    result = kpi(project_dir, *kpis, "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == expected


def test_the_table_of_some_kpis(project_dir):
    assert kpi(project_dir, "per_signup").stdout.splitlines() == [
        "dimension  datasets            kpis",
        "---------  ------------------  ----------",
        "region     customers, tickets  per_signup",
    ]


@pytest.mark.parametrize("args, code, message", [
    (["volum"], 1, "error[unknown-kpi]: unknown KPI 'volum'; did you mean 'volume'?"),
    (["volume", "signup"], 1, "error[unknown-kpi]: unknown KPI 'signup'; did you mean 'signups'?"),
    (["--format", "yaml"], 2, "'yaml' is not one of 'table', 'json'"),
])
def test_errors(project_dir, args, code, message):
    result = kpi(project_dir, *args)
    assert result.exit_code == code
    assert message in result.output and "Traceback" not in result.output


def test_a_definition_error_is_reported_with_its_place(write_project):
    root = write_project({"definitions/main.yml": DEFINITIONS.replace("volume / signups", "volume / signupz")})
    result = CliRunner().invoke(main, ["--project", str(root), "dimensions"])
    assert result.exit_code == 1
    # line 26 of the file (its first line is "datasets:"), the name at column 23
    assert "main.yml:26:23: error[" in result.output
    assert "did you mean 'signups'?" in result.output


def test_a_long_list_of_kpis_goes_on_over_the_next_lines(write_project):
    kpis = "".join(f"  kpi_number_{i:02d}:\n    dataset: tickets\n    formula: count()\n" for i in range(1, 11))
    root = write_project({"definitions/main.yml": "datasets:\n  tickets:\n    table: tickets\n    time: created_at\n"
                                                  "    dimensions:\n      channel: channel\nkpis:\n" + kpis})
    result = CliRunner().invoke(main, ["--project", str(root), "dimensions"])
    # "kpi_number_01, " is 15 characters: four names and their commas make 59, within the 60 of a line
    assert result.stdout.splitlines() == [
        "dimension  datasets  kpis",
        "---------  --------  " + "-" * 59,
        "channel    tickets   kpi_number_01, kpi_number_02, kpi_number_03, kpi_number_04,",
        "                     kpi_number_05, kpi_number_06, kpi_number_07, kpi_number_08,",
        "                     kpi_number_09, kpi_number_10",
    ]
