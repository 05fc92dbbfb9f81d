"""Property tests from the OpenAPI document: whatever schemathesis sends, with or without a token, no 500,
and every answer fits the document (the one error shape included). Examples are bounded so that the run
stays well under a minute on two cores."""

from __future__ import annotations

import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.web.conftest import WebWorld

EXAMPLES_PER_OPERATION = 25
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def test_api_conforms_and_never_fails(web_app: FastAPI, world: WebWorld) -> None:
    api_schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", web_app)
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 12
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck))
        def call(case: schemathesis.Case) -> None:
            case.call_and_validate(headers={"Authorization": f"Bearer {world.admin_token}"}, checks=CHECKS)

        call()
