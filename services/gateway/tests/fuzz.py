"""The API fuzz: schemathesis draws requests from the gateway's own OpenAPI document, valid ones
and invalid ones, for every operation, as each role, and checks every answer against the
document. Used by `test_api_fuzz.py` (in the normal test run) and by `python -m bench api_fuzz`.

The gateway runs for real (uvicorn on 127.0.0.1, its own lifespan and gRPC channels) in front of
the fakes of `platform.py`, which answer and refuse as the real services do.

Checks, each a failure when it fails:
- `not_a_server_error`: no 5xx, ever.
- `status_code_conformance`, `content_type_conformance`, `response_schema_conformance`,
  `response_headers_conformance`: every answer is one the document describes.
- `positive_data_acceptance`: a request the document calls valid is accepted. Refusals that do
  not depend on the request's form but on who asks or on what exists are not failures: 401 (no
  or a bad token: the anonymous role, and operations whose body carries a credential), 403 (a
  role without the right), 404 (ids drawn at random name nothing, and a session is "not found"
  to a non-participant), 409 (the state of the thing forbids it). 400, 413, 422 and 429 on valid
  data are failures: the document promised more than the server keeps.
  Stripe's webhooks are the one exception of form: their signature (a header) must match the
  body, which no drawn request does; their 400 `invalid_webhook` is the signature refused.
- `negative_data_rejection`: a request the document calls invalid is refused with a 4xx.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
import uvicorn
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.result import Ok
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from services.gateway.tests.authorization import ADMIN, ANONYMOUS, CLIENT, EXPERT, TRUSTEE, Role
from services.gateway.tests.platform import running_platform

FUZZ_ROLES = (ANONYMOUS, CLIENT, EXPERT, TRUSTEE, ADMIN)
SIGNED_BY_STRIPE = frozenset({"POST /v1/stripe/webhooks", "POST /v1/stripe/connect-webhooks"})
STATE_DEPENDENT = (401, 403, 404, 409)
"""Refusals of valid data that depend on who asks or what exists, not on the request's form."""
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    positive_data_acceptance,
    negative_data_rejection,
]
RESULTS = Path(__file__).resolve().parents[3] / "bench" / "results" / "api_fuzz.json"


@dataclass
class FuzzReport:
    roles: list[str]
    max_examples: int
    operations: int = 0
    requests: int = 0
    by_status: Counter[int] = field(default_factory=Counter)
    failures: dict[str, str] = field(default_factory=dict)
    """One line per distinct failure: "<check> <role> <METHOD path>: <message>"."""
    seconds: float = 0.0

    def count(self, status: int) -> None:
        self.requests += 1
        self.by_status[status] += 1

    def fail(self, role: Role, operation: str, failure: Failure, case: Any, answer: Any) -> None:
        if (
            isinstance(failure, RejectedPositiveData)
            and operation in SIGNED_BY_STRIPE
            and answer.status_code == 400
            and answer.json().get("code") == "invalid_webhook"
        ):
            return
        key = f"{type(failure).__name__} as {role.name}: {operation}"
        self.failures.setdefault(
            key,
            f"{failure.title}: {answer.status_code} {answer.text[:200]!r} to "
            f"{case.as_curl_command()[:400]}",
        )

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.by_status.items() if status >= 500)

    def schema_violations(self) -> int:
        return len(self.failures)

    def as_json(self) -> dict[str, Any]:
        classes: Counter[str] = Counter()
        for status, n in self.by_status.items():
            classes[f"{status // 100}xx"] += n
        return {
            "tool": f"schemathesis {schemathesis.__version__}",
            "roles": self.roles,
            "operations": self.operations,
            "max_examples_per_operation_role_and_mode": self.max_examples,
            "requests": self.requests,
            "responses_by_status_class": dict(sorted(classes.items())),
            "responses_by_status": {str(k): v for k, v in sorted(self.by_status.items())},
            "5xx": self.server_errors,
            "schema_violations": self.schema_violations(),
            "failures": self.failures,
            "seconds": round(self.seconds, 1),
            "valid_data_refusals_allowed": list(STATE_DEPENDENT),
        }

    def write(self, path: Path = RESULTS) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.as_json(), indent=2) + "\n")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving_gateway() -> Iterator[str]:
    """The gateway on a real port in front of the fakes; yields its base URL."""
    port = _free_port()
    ready = threading.Event()
    stop: dict[str, Any] = {}
    failure: list[BaseException] = []

    async def serve() -> None:
        with pytest.MonkeyPatch.context() as monkeypatch:
            async with running_platform(monkeypatch) as platform:
                config = uvicorn.Config(
                    platform.app, host="127.0.0.1", port=port, lifespan="off", log_level="error"
                )
                server = uvicorn.Server(config)
                stop["server"] = server
                task = asyncio.create_task(server.serve())
                while not server.started and not task.done():
                    await asyncio.sleep(0.01)
                ready.set()
                await task

    def run() -> None:
        try:
            asyncio.run(serve())
        except BaseException as error:  # reported to the caller below
            failure.append(error)
            ready.set()

    thread = threading.Thread(target=run, name="fuzzed-gateway", daemon=True)
    thread.start()
    if not ready.wait(30) or failure:
        raise RuntimeError("the gateway did not start") from (failure[0] if failure else None)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        if "server" in stop:
            stop["server"].should_exit = True
        thread.join(30)


def fuzz(base_url: str, roles: tuple[Role, ...] = FUZZ_ROLES, max_examples: int = 4) -> FuzzReport:
    """Every operation, as every role, `max_examples` valid and as many invalid requests."""
    config = SchemathesisConfig.from_dict(
        {
            "checks": {
                "positive_data_acceptance": {"expected-statuses": ["2XX", *STATE_DEPENDENT]},
            }
        }
    )
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json", config=config)
    report = FuzzReport([role.name for role in roles], max_examples)
    started = time.perf_counter()
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result.err()  # the document describes it in full
        operations.append(result.ok())
    report.operations = len(operations)
    with requests.Session() as session:
        for role in roles:
            for operation in operations:
                for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                    _run(session, base_url, role, operation, mode, max_examples, report)
    report.seconds = time.perf_counter() - started
    return report


def _run(
    session: requests.Session,
    base_url: str,
    role: Role,
    operation: Any,
    mode: GenerationMode,
    max_examples: int,
    report: FuzzReport,
) -> None:
    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=True,  # the same requests every run: a failure is reproducible
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def exercise(case: Any) -> None:
        headers = role.headers()
        response = case.call(base_url=base_url, session=session, headers=headers, timeout=10)
        report.count(response.status_code)
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except FailureGroup as group:
            for failure in group.exceptions:
                report.fail(role, operation.label, failure, case, response)
        except Failure as failure:
            report.fail(role, operation.label, failure, case, response)

    try:
        exercise()
    except Unsatisfiable:
        # No invalid request exists for an operation without inputs (GET /healthz).
        if mode is GenerationMode.POSITIVE:
            raise
