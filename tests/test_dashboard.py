"""The live dashboard at ``/`` of ``kpi serve``, in process: the page, its security headers, and what it
holds with and without tokens. Its script runs in a real browser in tests/test_report_browser.py."""

from __future__ import annotations

import base64
import hashlib
import re
from html import unescape

import pytest

from kpi_engine.compiler.periods import GRAINS
from support.http_project import DEFINITIONS, EU_TOKEN, TABLES, TOKENS, bearer, client


def inline_script(page: str) -> str:
    scripts = re.findall(r"<script>(.*?)</script>", page, re.S)
    assert len(scripts) == 1
    return scripts[0]


def options(page: str, select: str) -> list[str]:
    block = re.search(rf'<select id="{select}".*?</select>', page, re.S).group(0)
    return re.findall(r'<option value="([^"]*)"', block)


@pytest.fixture
def open_api(make_project):
    return client(make_project(DEFINITIONS, TABLES))


@pytest.fixture
def token_api(make_project):
    return client(make_project(DEFINITIONS, TABLES, extra_config=TOKENS))


def test_the_page_has_the_controls_with_the_cli_names(open_api):
    response = open_api.get("/")
    assert response.status_code == 200 and response.headers["content-type"] == "text/html; charset=utf-8"
    page = response.text
    assert options(page, "grain") == list(GRAINS)
    assert 'value="month" selected' in page
    assert options(page, "by") == ["", "channel", "region"]  # none, then the dimensions by name
    assert options(page, "refresh") == ["0", "30", "60", "300", "900"]
    for control in ('id="from" name="from" type="date"', 'id="to" name="to" type="date"',
                    'id="token" name="token" type="password"'):
        assert control in page
    assert '<ul class="tiles" id="tiles">' in page and 'role="status"' in page


def test_only_its_own_script_may_run_and_only_this_server_be_read(open_api):
    response = open_api.get("/")
    policy = dict(part.strip().split(" ", 1) for part in response.headers["content-security-policy"].split(";"))
    digest = base64.b64encode(hashlib.sha256(inline_script(response.text).encode()).digest()).decode()
    assert policy == {"default-src": "'none'", "script-src": f"'sha256-{digest}'", "style-src": "'unsafe-inline'",
                      "img-src": "data:", "connect-src": "'self'", "base-uri": "'none'", "form-action": "'none'",
                      "frame-ancestors": "'none'"}
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
    page = response.text.replace("http://www.w3.org/2000/svg", "")
    assert not re.search(r"https?://|<(link|img|iframe)\b|@import|url\(", page)
    # the script reads the server's own endpoints, by paths relative to the page (so a mounted app works)
    script = inline_script(response.text)
    for path in ('get("kpis")', 'get("dimensions")', '"query?"'):
        assert path in script
    assert "sessionStorage" in script and '"Authorization": "Bearer "' in script


def test_with_tokens_the_page_needs_none_and_holds_no_data(token_api):
    response = token_api.get("/")
    assert response.status_code == 200
    page = unescape(response.text)
    assert options(page, "by") == [""]  # the dimensions come from /dimensions, with the token
    for name in ("volume", "resolution_rate", "Resolution rate", "EU", "region"):
        assert name not in page.replace('value="region"', "")
    assert token_api.get("/query?kpi=volume").status_code == 401  # the data still needs the token
    assert token_api.get("/query?kpi=volume", headers=bearer(EU_TOKEN)).status_code == 200


def test_the_page_is_not_in_the_api_document(open_api):
    document = open_api.get("/openapi.json").json()
    assert "/" not in document["paths"]
