"""The OpenAPI document: a valid one (openapi-spec-validator), true to what the API answers (schemathesis
sends generated requests, valid and invalid, and checks each answer against it), with no 422 and every
error in the one error shape."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from openapi_spec_validator import validate
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, negative_data_rejection,
                                               response_schema_conformance, status_code_conformance)

from kpi_engine.http import create_app
from support.http_project import DEFINITIONS, EU_TOKEN, TABLES, TOKENS, bearer, client

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 20  # per operation and mode: about 260 requests per app


@pytest.fixture
def project(make_project):
    return make_project(DEFINITIONS, TABLES)


def test_the_document_is_valid_openapi(project):
    document = client(project).get("/openapi.json").json()
    validate(document)
    assert document["openapi"].startswith("3.")
    assert sorted(document["paths"]) == ["/compile", "/dimensions", "/health", "/kpis", "/kpis/{name}", "/query"]
    assert sorted(document["paths"]["/query"]) == ["get", "post"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert "422" not in responses, f"{method} {path}"
            for status, response in responses.items():
                if status.startswith(("4", "5")):
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/ErrorBody"}, f"{method} {path} {status}"
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert set(document["paths"]["/query"]["get"]["responses"]["200"]["content"]) == {"application/json", "text/csv"}


@pytest.mark.parametrize("tokens", [False, True], ids=["open", "with tokens"])
def test_generated_requests_get_documented_answers(make_project, tokens):
    project = make_project(DEFINITIONS, TABLES, extra_config=TOKENS if tokens else "")
    app = create_app(project)
    headers = bearer(EU_TOKEN) if tokens else {}
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, headers=headers)
    seen: set[int] = set()
    unsatisfiable: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 7
    for operation in operations:
        raw = operation.definition.raw
        takes_input = bool(raw.get("parameters") or raw.get("requestBody"))
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) if takes_input else (GenerationMode.POSITIVE,):
            checks = CHECKS + ([negative_data_rejection] if mode is GenerationMode.NEGATIVE else [])

            @given(case=operation.as_strategy(generation_mode=mode, headers=headers))
            @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck))
            def check(case):
                response = case.call()
                seen.add(response.status_code)
                assert response.status_code != 422 and response.status_code < 500, response.text
                if response.status_code >= 400:
                    assert set(response.json()) == {"error"}
                case.validate_response(response, checks=checks)

            try:
                check()
            except Unsatisfiable:
                # no request violating the document can be built (a path parameter that is any text)
                assert mode is GenerationMode.NEGATIVE, operation.label
                unsatisfiable.append(operation.label)
    assert 200 in seen and 400 in seen
    assert unsatisfiable == ["GET /kpis/{name}"]
