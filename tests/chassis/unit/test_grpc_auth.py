"""The gRPC token check, and that no service serves gRPC around it."""

from __future__ import annotations

import pytest
from nameko_grpc.entrypoint import Grpc as NamekoGrpc

from cli.registry import SERVICES, load
from headstore.grpc import AuthenticatedGrpcServer, Grpc
from headstore.grpc_auth import bearer_metadata, token_accepted

TOKEN = "3f1c" * 16


def test_the_right_bearer_token_is_accepted() -> None:
    ((name, value),) = bearer_metadata(TOKEN)
    assert name == "authorization"
    assert token_accepted(TOKEN, value)


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        f"Bearer {TOKEN[:-1]}",
        f"Bearer {TOKEN}x",
        TOKEN,
        f"Basic {TOKEN}",
    ],
)
def test_anything_else_is_refused(authorization: str | None) -> None:
    assert not token_accepted(TOKEN, authorization)


def test_an_empty_expected_token_accepts_nothing() -> None:
    assert not token_accepted("", "Bearer ")


def test_no_token_no_metadata() -> None:
    assert bearer_metadata("") == ()


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_grpc_entrypoint_of_every_service_goes_through_the_token_check(name: str) -> None:
    service_class = load(SERVICES[name].service_class)
    entrypoints = [
        entrypoint
        for attribute in dir(service_class)
        for entrypoint in getattr(getattr(service_class, attribute), "nameko_entrypoints", ())
        if isinstance(entrypoint, NamekoGrpc)
    ]
    assert entrypoints, f"{name} serves no gRPC method"
    for entrypoint in entrypoints:
        assert isinstance(entrypoint, Grpc), f"{name}.{entrypoint} bypasses headstore.grpc.Grpc"
        assert isinstance(entrypoint.grpc_server, AuthenticatedGrpcServer)
