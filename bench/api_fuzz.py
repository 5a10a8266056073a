"""`python -m bench api_fuzz`: the API fuzz of the gateway's tests (services/gateway/tests/fuzz.py)
run as a benchmark: schemathesis against the gateway's OpenAPI document as anonymous, client,
expert, trustee and admin, in front of in-process fakes of the services. Writes
bench/results/api_fuzz.json: requests, responses by status class, 5xx (must be 0), schema
violations (must be 0). BENCH_API_FUZZ_EXAMPLES sets the examples per operation, role and mode
(default 10, as the test run)."""

from __future__ import annotations

import os
from typing import Any

from services.gateway.tests.fuzz import fuzz, serving_gateway


def run() -> dict[str, Any]:
    examples = int(os.environ.get("BENCH_API_FUZZ_EXAMPLES", "10"))
    with serving_gateway() as base_url:
        report = fuzz(base_url, max_examples=examples)
    report.write()
    result = report.as_json()
    result["ok"] = result["5xx"] == 0 and result["schema_violations"] == 0
    return result
