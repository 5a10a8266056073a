"""Every error is JSON {"code", "message", "field"}: services' DomainErrors keep their code,
field and HTTP status; failures of the call itself become 503 or 500; bad requests 422."""

from __future__ import annotations

import grpc
import httpx
import pytest

from services.gateway.tests.conftest import DEADLINE_SECONDS, FakeProfiles, bearer

pytestmark = pytest.mark.anyio

SIGN_UP = {"email": "ada@example.com", "password": "long-enough", "name": "Ada"}


async def test_invalid_argument_from_a_service_is_422_with_its_code_and_field(
    client: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    body = {"code": "invalid_email", "message": "'x' is not an e-mail address.", "field": "email"}
    profiles.fail("SignUp", grpc.StatusCode.INVALID_ARGUMENT, body)
    response = await client.post("/v1/accounts", json=SIGN_UP)
    assert response.status_code == 422
    assert response.json() == body


async def test_already_exists_from_a_service_is_409(
    client: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    body = {"code": "email_taken", "message": "That address has an account.", "field": "email"}
    profiles.fail("SignUp", grpc.StatusCode.ALREADY_EXISTS, body)
    response = await client.post("/v1/accounts", json=SIGN_UP)
    assert response.status_code == 409
    assert response.json() == body


@pytest.mark.parametrize(
    ("status", "http_status"),
    [
        (grpc.StatusCode.NOT_FOUND, 404),
        (grpc.StatusCode.FAILED_PRECONDITION, 409),
        (grpc.StatusCode.UNAUTHENTICATED, 401),
        (grpc.StatusCode.PERMISSION_DENIED, 403),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, 429),
    ],
)
async def test_each_kind_of_domain_error_keeps_its_http_status(
    client: httpx.AsyncClient, profiles: FakeProfiles, status: grpc.StatusCode, http_status: int
) -> None:
    profiles.fail("LogIn", status, {"code": "some_code", "message": "Because.", "field": None})
    response = await client.post("/v1/auth/login", json={"email": "a@b.co", "password": "x"})
    assert response.status_code == http_status
    assert response.json() == {"code": "some_code", "message": "Because.", "field": None}


async def test_an_unavailable_service_is_503_service_unavailable(
    client: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    profiles.fail("ListCategories", grpc.StatusCode.UNAVAILABLE, "connection refused")
    response = await client.get("/v1/categories")
    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"
    assert "profiles" in response.json()["message"]


async def test_a_service_slower_than_the_deadline_is_503(
    client: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    profiles.delays["ListCategories"] = DEADLINE_SECONDS + 0.5
    response = await client.get("/v1/categories")
    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"


async def test_a_service_that_is_not_listening_is_503(unreachable: httpx.AsyncClient) -> None:
    response = await unreachable.get("/v1/categories")
    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"


async def test_an_unknown_grpc_failure_is_500_internal_without_details(
    client: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    profiles.fail("ListCategories", grpc.StatusCode.INTERNAL, "Traceback: secret stuff")
    response = await client.get("/v1/categories")
    assert response.status_code == 500
    assert response.json() == {
        "code": "internal",
        "message": "Something went wrong on our side.",
        "field": None,
    }


async def test_a_method_the_service_does_not_have_is_502(
    client: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    profiles.fail("ListCategories", grpc.StatusCode.UNIMPLEMENTED, "Method not found")
    response = await client.get("/v1/categories")
    assert response.status_code == 502
    assert response.json()["code"] == "service_unavailable"


async def test_a_missing_field_is_422_invalid_request_naming_it(
    client: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    response = await client.post("/v1/accounts", json={"password": "long-enough", "name": "A"})
    assert response.status_code == 422
    assert response.json() == {
        "code": "invalid_request",
        "message": "email is required.",
        "field": "email",
    }
    assert profiles.calls == []


async def test_a_wrongly_typed_field_is_422_invalid_request_naming_it(
    client: httpx.AsyncClient,
) -> None:
    response = await client.put(
        "/v1/experts/me/availability", json={"online": "maybe"}, headers=bearer("expert")
    )
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_request"
    assert response.json()["field"] == "online"


async def test_a_nested_field_is_named_by_its_path(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/expert-applications",
        json={"name": "G", "answers": [{"question_id": "q"}]},
        headers=bearer("client"),
    )
    assert response.status_code == 422
    assert response.json()["field"] == "answers.0.answer"


async def test_a_body_that_is_not_json_is_422_invalid_request(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/accounts", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_request"
    assert set(response.json()) == {"code", "message", "field"}


async def test_a_bad_query_parameter_is_422_invalid_request(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/experts?page_size=1000")
    assert response.status_code == 422
    assert response.json()["field"] == "page_size"


async def test_an_unknown_route_is_404_not_found_json(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json() == {
        "code": "not_found",
        "message": "There is nothing at this address.",
        "field": None,
    }


async def test_a_wrong_method_is_405_in_the_same_shape(client: httpx.AsyncClient) -> None:
    response = await client.delete("/v1/categories")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
