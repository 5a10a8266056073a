"""Rates travel as decimal strings and become integer minor units; never floats."""

from __future__ import annotations

import httpx
import pytest

from services.gateway.tests.conftest import FakeProfiles, bearer

pytestmark = pytest.mark.anyio


async def test_a_rate_of_3_00_reaches_the_service_as_300_minor_units(
    client: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    response = await client.patch(
        "/v1/experts/me/profile",
        json={"currency": "USD", "rate_per_minute": "3.00", "free_minutes": 5},
        headers=bearer("expert", sub="exp-1"),
    )
    assert response.status_code == 200
    request = profiles.last("UpdateExpertProfile").request
    assert request.expert_id == "exp-1"
    assert request.rate_per_minute == 300
    assert isinstance(request.rate_per_minute, int)
    assert (request.currency, request.free_minutes) == ("USD", 5)


async def test_rates_are_answered_as_currency_decimal_string_and_minor_units(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/v1/experts/9a1c7e52-0d3b-4f6a-8e21-5b7c4d3a2f10")
    assert response.status_code == 200
    assert response.json()["rate_per_minute"] == {"currency": "USD", "amount": "3.00", "minor": 300}


@pytest.mark.parametrize("amount", ["3.005", "3,00", "-1", "abc", ""])
async def test_an_amount_that_is_not_a_two_decimal_number_is_422(
    client: httpx.AsyncClient, profiles: FakeProfiles, amount: str
) -> None:
    response = await client.patch(
        "/v1/experts/me/profile", json={"rate_per_minute": amount}, headers=bearer("expert")
    )
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_amount"
    assert response.json()["field"] == "rate_per_minute"
    assert profiles.calls == []


@pytest.mark.parametrize("amount", [3.0, 3, 3.005])
async def test_a_json_number_as_rate_is_refused(
    client: httpx.AsyncClient, profiles: FakeProfiles, amount: float
) -> None:
    response = await client.patch(
        "/v1/experts/me/profile", json={"rate_per_minute": amount}, headers=bearer("expert")
    )
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_request"
    assert response.json()["field"] == "rate_per_minute"
    assert profiles.calls == []


async def test_fields_left_out_stay_unset_and_lists_present_are_marked_set(
    client: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    response = await client.patch(
        "/v1/experts/me/profile",
        json={"job_title": "Tax adviser", "tags": []},
        headers=bearer("expert"),
    )
    assert response.status_code == 200
    request = profiles.last("UpdateExpertProfile").request
    assert request.HasField("job_title") and request.job_title == "Tax adviser"
    for unset in ("name", "currency", "rate_per_minute", "free_minutes", "description"):
        assert not request.HasField(unset), unset
    assert (request.tags_set, list(request.tags)) == (True, [])
    assert (request.categories_set, request.languages_set) == (False, False)


async def test_rate_filters_in_the_directory_are_decimal_strings(
    client: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    response = await client.get(
        "/v1/experts",
        params={"q": "tax", "currency": "USD", "min_rate": "1.5", "max_rate": "15"},
    )
    assert response.status_code == 200
    request = profiles.last("SearchExperts").request
    assert (request.min_rate, request.max_rate) == (150, 1500)
    assert response.json()["experts"][0]["rate_per_minute"]["amount"] == "3.00"


async def test_an_unset_rate_filter_is_not_sent(
    client: httpx.AsyncClient, profiles: FakeProfiles
) -> None:
    await client.get("/v1/experts")
    request = profiles.last("SearchExperts").request
    assert not request.HasField("min_rate") and not request.HasField("max_rate")
    assert (request.page, request.page_size) == (1, 20)


async def test_a_bad_rate_filter_is_422_naming_it(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/experts", params={"max_rate": "1.234"})
    assert response.status_code == 422
    assert (response.json()["code"], response.json()["field"]) == ("invalid_amount", "max_rate")
