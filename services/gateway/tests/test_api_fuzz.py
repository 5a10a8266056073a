"""The API fuzz in the normal test run: schemathesis against the gateway's own OpenAPI document,
as anonymous, client, expert, trustee and admin (see `fuzz.py` for the checks and what a valid
request may still be refused with). It fails on any 5xx, on any answer the document does not
describe, and on any valid request refused for its form; its counts go to
bench/results/api_fuzz.json.

Bounded: API_FUZZ_EXAMPLES valid and as many invalid requests per operation and role (default
10, under a minute on two cores), drawn the same way on every run."""

from __future__ import annotations

import json
import os

import pytest

from services.gateway.tests.fuzz import RESULTS, fuzz, serving_gateway

EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "10"))


@pytest.mark.timeout(240)
def test_the_api_answers_as_its_document_says_to_every_role() -> None:
    with serving_gateway() as base_url:
        report = fuzz(base_url, max_examples=EXAMPLES)
    report.write()
    assert report.operations >= 40 and report.requests >= report.operations * 5
    assert report.server_errors == 0, report.by_status
    assert report.failures == {}, json.dumps(report.failures, indent=2)
    written = json.loads(RESULTS.read_text())
    assert (written["5xx"], written["schema_violations"]) == (0, 0)
