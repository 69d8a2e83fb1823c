"""Policy version routes: PUT YAML (hr), read, list and diff (anyone with a token)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from service.api.deps import DB, HR, Anyone, settings
from service.api.inputs import PolicyName, VersionName
from service.policies import service
from service.policies.models import DiffOut, PoliciesOut, PolicyVersionsOut, StoredVersionOut
from service.policies.service import etag_of, get_version, matches, policy_too_large

router = APIRouter(tags=["policies"])
YAML_MEDIA = "application/yaml"
_POLICY_DOCUMENT = {"type": "object", "description": "the policy as YAML (schemas/policy.schema.json), comments kept"}
"""What `GET` answers, as OpenAPI describes a YAML body: the document it parses to (a mapping).
A client that follows the listings' links to this route reads YAML, not a JSON string."""


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, refused (413) as soon as it passes `limit` - also when sent chunked."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise policy_too_large(limit)
    parts: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise policy_too_large(limit)
        parts.append(chunk)
    return b"".join(parts)


@router.put(
    "/policies/{policy_id}/versions/{version}",
    status_code=201,
    response_model=StoredVersionOut,
    openapi_extra={"requestBody": {"content": {YAML_MEDIA: {"schema": {"type": "string"}}}, "required": True}},
)
async def put_version(
    who: HR,
    db: DB,
    policy_id: PolicyName,
    version: VersionName,
    request: Request,
    response: Response,
    if_match: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """Create a version, or replace an unpublished one (needs If-Match with its ETag)."""
    cfg = settings(request)
    body = await _read_body(request, cfg.max_policy_bytes)
    # Parsing, acceptance scenarios and the database are blocking: keep them off the event loop.
    stored = await run_in_threadpool(
        service.put_version, db, who, cfg.clock(), policy_id, version, body, if_match, cfg.max_policy_bytes
    )
    response.status_code = stored.status
    response.headers["ETag"] = etag_of(stored.text_sha256)
    response.headers["Location"] = f"/policies/{policy_id}/versions/{version}"
    return stored.body


@router.delete("/policies/{policy_id}/versions/{version}")
def withdraw_version(policy_id: str, version: str, request: Request, who: HR, db: DB) -> dict[str, Any]:
    """Withdraw a version no run has used (409 once one has); the audit log keeps its YAML hash."""
    return service.withdraw_version(db, who, settings(request).clock(), policy_id, version)


@router.get("/policies", response_model=PoliciesOut)
def list_policies(_: Anyone, db: DB) -> dict[str, Any]:
    return service.list_policies(db)


@router.get("/policies/{policy_id}/versions", response_model=PolicyVersionsOut)
def list_versions(policy_id: str, _: Anyone, db: DB) -> dict[str, Any]:
    return service.list_versions(db, policy_id)


@router.get(
    "/policies/{policy_id}/versions/{version}",
    responses={200: {"content": {YAML_MEDIA: {"schema": _POLICY_DOCUMENT}}}},
)
def get_yaml(
    _: Anyone,
    db: DB,
    policy_id: str,
    version: str,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """The version's YAML exactly as stored; `ETag` is the sha256 of these bytes."""
    row = get_version(db, policy_id, version)
    headers = {"ETag": etag_of(row.text_sha256), "Merit-Policy-Sha256": row.sha256}
    if if_none_match is not None and matches(if_none_match, row.text_sha256):
        return Response(status_code=304, headers=headers)
    return Response(row.text.encode("utf-8"), media_type=f"{YAML_MEDIA}; charset=utf-8", headers=headers)


@router.get("/policies/{policy_id}/diff", response_model=DiffOut)
def diff(
    policy_id: str,
    from_: Annotated[str, Query(alias="from")],
    to: str,
    _: Anyone,
    db: DB,
) -> dict[str, Any]:
    """The engine's semantic diff between two versions ("commission tier advanced: rate 2% -> 1.8%")."""
    return service.diff(db, policy_id, from_, to)
