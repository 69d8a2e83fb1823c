"""Token routes (hr only): list tokens, issue one (its secret in this answer only), revoke one."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import Field

from service.api.deps import DB, HR, now, settings
from service.api.errors import ApiError
from service.api.inputs import Id, Input
from service.tokens import service

router = APIRouter(tags=["tokens"])


class TokenRequest(Input):
    """What `merit token create` takes: role, name, a manager's regions, a rep's rep_id, a lifetime."""

    role: Annotated[str, Field(max_length=20, description="hr, manager, payroll or rep")]
    name: Annotated[str, Field(max_length=200, description="who holds the token")]
    regions: list[Annotated[str, Field(max_length=100)]] = Field(default_factory=list, max_length=100)
    rep_id: Annotated[str | None, Field(max_length=100)] = None
    expires: Annotated[str | None, Field(max_length=20, description="a lifetime: 90d, 12h, 2w")] = None
    new_region: Annotated[bool, Field(description="confirm regions no fact import names yet")] = False
    new_rep: Annotated[bool, Field(description="confirm a rep_id no fact import names yet")] = False


@router.get("/tokens")
def list_tokens(request: Request, _: HR, db: DB) -> dict[str, Any]:
    """Every token, oldest first: grant, created/expires/revoked/last used, status; never a secret."""
    return {"tokens": service.list_tokens(db, now(request))}


@router.post("/tokens", status_code=201)
def create_token(body: TokenRequest, request: Request, who: HR, db: DB) -> dict[str, Any]:
    """Issue a token; the answer's `token` is its secret, shown this once (only its sha256 is stored)."""
    at = now(request)
    if body.role == "hr" and settings(request).separate_duties:
        # finalizing checks that two people acted; an HR token could otherwise mint itself a second
        # name (found by a hostile review): with duties separated, HR tokens come from `merit token create`
        raise ApiError(
            403,
            "forbidden",
            "with separation of duties on, HR tokens are created by an administrator (`merit token create`)",
        )
    secret, row = service.issue_token(
        db,
        at,
        role=body.role,
        name=body.name,
        regions=body.regions,
        rep_id=body.rep_id,
        expires=body.expires,
        new_region=body.new_region,
        confirm='"new_region": true',
        actor=(who.name, who.role, who.token_id),
        new_rep=body.new_rep,
        confirm_rep='"new_rep": true',
    )
    return {**service.token_dict(row, at), "token": secret}


@router.delete("/tokens/{token_id}")
def revoke_token(token_id: Id, request: Request, who: HR, db: DB) -> dict[str, Any]:
    """Revoke a token (refused from then on); revoking a revoked token answers the same, unchanged.
    The token making the request cannot revoke itself (409)."""
    at = now(request)
    if token_id == who.token_id:
        raise ApiError(
            409,
            "conflict",
            "a token cannot revoke itself (HR would lock itself out): use another HR token or `merit token revoke`",
        )
    try:
        row, _ = service.revoke_token(db, token_id, at, actor=(who.name, who.role, who.token_id))
    except service.TokenNotFound:
        raise ApiError(404, "token-not-found", f"there is no token {token_id}") from None
    settings(request).tokens.forget(row.token_sha256)  # this process refuses it at once; others within 2 s
    return service.token_dict(row, at)
