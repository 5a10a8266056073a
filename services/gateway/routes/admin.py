"""Categories of expertise, and what only admins may do."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Path, status

from contracts.profiles.v1 import profiles_pb2 as pb
from services.gateway.auth import Caller, require_roles
from services.gateway.schemas import Account, AddCategory, Categories, GrantRole, error_responses
from services.gateway.upstream import ProfilesClient, profiles

router = APIRouter(responses=error_responses(422, 503))

Profiles = Annotated[ProfilesClient, Depends(profiles)]
Admin = Annotated[Caller, Depends(require_roles("admin"))]


@router.get(
    "/v1/categories",
    response_model=Categories,
    tags=["categories"],
    summary="The categories experts choose from",
)
async def list_categories(service: Profiles) -> Categories:
    return Categories.from_proto(await service.ListCategories(pb.ListCategoriesRequest()))


@router.post(
    "/v1/categories",
    status_code=status.HTTP_201_CREATED,
    response_model=Categories,
    tags=["categories", "admin"],
    responses=error_responses(401, 403, 409),
    summary="Add a category (admin); answers the whole list",
)
async def add_category(body: AddCategory, caller: Admin, service: Profiles) -> Categories:
    answer = await service.AddCategory(
        pb.AddCategoryRequest(admin_id=caller.account_id, slug=body.slug, label=body.label),
    )
    return Categories.from_proto(answer)


@router.post(
    "/v1/admin/accounts/{account_id}/roles",
    response_model=Account,
    tags=["admin"],
    responses=error_responses(401, 403, 404),
    summary="Grant an account a role (admin)",
)
async def grant_role(
    account_id: Annotated[UUID, Path(description="The account's id.")],
    body: GrantRole,
    caller: Admin,
    service: Profiles,
) -> Account:
    answer = await service.GrantRole(
        pb.GrantRoleRequest(admin_id=caller.account_id, account_id=str(account_id), role=body.role),
    )
    return Account.from_proto(answer)
