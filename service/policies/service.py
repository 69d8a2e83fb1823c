"""Policy versions as use cases: HR writes YAML, everyone reads; the engine decides what is valid.

A version is stored only when `parse_policy` (schema + linter) accepts it and HR's acceptance
scenarios for that policy pass. Editing an existing version needs `If-Match` with its current
ETag (412 when stale, 428 when missing) so two HR editors never overwrite each other, and a
version some published run used is frozen (409). The conditional UPDATE on the stored hash is
what makes the check race-free.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from engine.problems import MeritInputError, Problem
from service.api.errors import ApiError
from service.audit import service as audit
from service.auth import Principal
from service.db.session import commit, release
from service.engine_gate import Policy, acceptance_problems, diff_policies, parse_policy
from service.policies.models import PolicyContent, PolicyVersion
from service.policies.overlap import overlapping, span
from service.replay.models import PolicyShadow, shadow_dict
from service.runs.models import Run


def _month(value: object | None) -> str | None:
    return None if value is None else str(value)


def etag_of(sha256: str) -> str:
    return f'"{sha256}"'


def matches(header: str, sha256: str) -> bool:
    tags = [t.strip() for t in header.split(",")]
    return any(t == "*" or t.removeprefix("W/").strip('"') == sha256 for t in tags)


def version_dict(v: PolicyVersion) -> dict[str, Any]:
    return {
        "policy_id": v.policy_id,
        "version": v.version,
        "sha256": v.sha256,
        "etag": etag_of(v.text_sha256),
        "effective_from": v.effective_from,
        "effective_to": v.effective_to,
        "objection_days": v.objection_days,
        "locked": v.locked,
        "created_at": v.created_at.isoformat(),
        "updated_at": v.updated_at.isoformat(),
    }


def get_version(db: Session, policy_id: str, version: str) -> PolicyVersion:
    row = db.scalars(
        select(PolicyVersion).where(PolicyVersion.policy_id == policy_id, PolicyVersion.version == version)
    ).first()
    if row is None:
        raise ApiError(404, "policy-version-not-found", f"policy {policy_id!r} has no version {version!r}")
    return row


def load_policy(db: Session, sha256: str) -> Policy:
    """The engine's Policy for stored content (already validated when it was stored)."""
    content = db.get(PolicyContent, sha256)
    if content is None:
        raise ApiError(500, "internal-error", "stored policy content is missing")
    return parse_policy(content.text, f"{content.policy_id}/{content.version}")


def policy_too_large(limit: int) -> ApiError:
    return ApiError(413, "policy-too-large", f"a policy may be at most {limit} bytes", limit=limit)


def _parse_body(body: bytes, policy_id: str, version: str, limit: int) -> Policy:
    source = f"{policy_id}/{version}"
    if len(body) > limit:
        raise policy_too_large(limit)
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ApiError(
            422,
            "invalid-policy",
            "the policy is not UTF-8 text",
            [Problem(source, None, None, "", f"not UTF-8: {exc.reason} at byte {exc.start}")],
        ) from exc
    try:
        policy = parse_policy(text, source)
    except MeritInputError as err:
        raise ApiError(422, "invalid-policy", f"the policy has {len(err.problems)} problem(s)", err.problems) from err
    mismatch = []
    if policy.id != policy_id:
        mismatch.append(Problem(source, None, None, "id", f"the YAML says id {policy.id!r} but the URL {policy_id!r}"))
    if policy.version != version:
        mismatch.append(
            Problem(
                source,
                None,
                None,
                "version",
                f"the YAML says version {policy.version!r} but the URL {version!r}",
            )
        )
    if mismatch:
        raise ApiError(422, "invalid-policy", "the policy does not match its URL", mismatch)
    failed = acceptance_problems(policy)
    if failed:
        raise ApiError(
            422,
            "acceptance-failed",
            f"{len(failed)} of HR's acceptance scenarios for {policy_id!r} fail with this version",
            failed,
        )
    return policy


def _store_content(db: Session, policy: Policy, at: datetime) -> None:
    if db.get(PolicyContent, policy.sha256) is None:
        db.add(
            PolicyContent(
                sha256=policy.sha256,
                policy_id=policy.id,
                version=policy.version,
                text=policy.text,
                created_at=at,
            )
        )
        db.flush()


def _precheck(db: Session, policy_id: str, version: str, if_match: str | None) -> PolicyVersion | None:
    """The existing version, if the caller may replace it (409 frozen, 428 no If-Match, 412 stale)."""
    existing = db.scalars(
        select(PolicyVersion).where(PolicyVersion.policy_id == policy_id, PolicyVersion.version == version)
    ).first()
    if existing is None and if_match is not None:
        raise ApiError(412, "stale-etag", f"{policy_id} {version} does not exist, so If-Match cannot match")
    if existing is not None:
        if existing.locked:
            raise ApiError(
                409,
                "policy-version-immutable",
                f"{policy_id} {version} was used by a published run and can no longer change; "
                "put a new version instead",
            )
        if if_match is None:
            raise ApiError(
                428,
                "if-match-required",
                f"{policy_id} {version} exists: send If-Match with its ETag to replace it",
                etag=etag_of(existing.text_sha256),
            )
        if not matches(if_match, existing.text_sha256):
            raise ApiError(
                412,
                "stale-etag",
                f"{policy_id} {version} changed since you read it; fetch it again",
                etag=etag_of(existing.text_sha256),
            )
    return existing


def _refuse_overlap(db: Session, policy: Policy) -> None:
    """409 when another stored version of the policy is in force in one of this one's months."""
    start, end = str(policy.effective_from), _month(policy.effective_to)
    clash = overlapping(db, policy.id, policy.version, start, end)
    if clash is not None:
        other, other_span = clash
        raise ApiError(
            409,
            "policy-versions-overlap",
            f"{policy.id} {policy.version} ({span(start, end)}) overlaps {other} ({other_span}): "
            f"a month can have one version in force; give one of them other effective months",
            versions=[policy.version, other],
        )


@dataclass(frozen=True)
class Stored:
    """What `put_version` did: 201 (created) or 200 (replaced), the YAML's sha256 (the ETag), the body."""

    status: int
    text_sha256: str
    body: dict[str, Any]


def put_version(
    db: Session,
    who: Principal,
    at: datetime,
    policy_id: str,
    version: str,
    body: bytes,
    if_match: str | None,
    limit: int,
) -> Stored:
    """Create a version, or replace an unpublished one whose ETag `if_match` names."""
    _precheck(db, policy_id, version, if_match)
    release(db)  # HR's acceptance scenarios take seconds: hold no database lock meanwhile
    policy = _parse_body(body, policy_id, version, limit)
    existing = _precheck(db, policy_id, version, if_match)  # again: it may have changed meanwhile
    _refuse_overlap(db, policy)
    _store_content(db, policy, at)
    text_sha = hashlib.sha256(policy.text.encode("utf-8")).hexdigest()
    content = {
        "sha256": policy.sha256,
        "text": policy.text,
        "text_sha256": text_sha,
        "effective_from": str(policy.effective_from),
        "effective_to": _month(policy.effective_to),
        "objection_days": policy.objection_days,
        "updated_at": at,
    }
    if existing is None:
        row = PolicyVersion(policy_id=policy_id, version=version, locked=False, created_at=at, **content)
        db.add(row)
        audit.record(
            db, who, at, "policy.create", f"policy:{policy_id}/{version}", after=text_sha, policy_sha256=policy.sha256
        )
        commit(db, f"{policy_id} {version} was created concurrently; fetch it and retry with If-Match")
        status = 201
    else:
        before, before_policy = existing.text_sha256, existing.sha256
        # Conditional on the hash we checked and on "not locked": a concurrent edit or publish that
        # committed in between makes this update touch no row.
        result = db.execute(
            update(PolicyVersion)
            .where(
                PolicyVersion.id == existing.id,
                PolicyVersion.text_sha256 == before,
                PolicyVersion.locked.is_(False),
            )
            .values(**content)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            db.rollback()
            raise ApiError(412, "stale-etag", f"{policy_id} {version} changed or was published concurrently")
        audit.record(
            db,
            who,
            at,
            "policy.update",
            f"policy:{policy_id}/{version}",
            before=before,
            after=text_sha,
            policy_sha256_before=before_policy,
            policy_sha256=policy.sha256,
        )
        commit(db)
        status = 200
    body_out = {
        "policy_id": policy_id,
        "version": version,
        "sha256": policy.sha256,
        "effective_from": str(policy.effective_from),
        "effective_to": _month(policy.effective_to),
        "objection_days": policy.objection_days,
    }
    return Stored(status, text_sha, body_out)


def withdraw_version(db: Session, who: Principal, at: datetime, policy_id: str, version: str) -> dict[str, Any]:
    """Remove a version no run ever used (a mistaken upload, a draft plan dropped); 409 once a run
    (even a draft) used it: a used version is part of that run's record. Audited with its YAML hash."""
    row = get_version(db, policy_id, version)
    used = db.scalars(
        select(Run.id).where(Run.policy_id == policy_id, Run.policy_version == version).order_by(Run.id).limit(5)
    ).all()
    if row.locked or used:
        said = f"run {', '.join(map(str, used))}" if used else "a published run"
        raise ApiError(
            409,
            "policy-version-used",
            f"{policy_id} {version} was used by {said} and cannot be withdrawn; put a new version instead",
            runs=list(used),
        )
    gone = version_dict(row)
    result = db.execute(
        delete(PolicyVersion)
        .where(PolicyVersion.id == row.id, PolicyVersion.text_sha256 == row.text_sha256)
        .where(PolicyVersion.locked.is_(False))
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        db.rollback()
        raise ApiError(409, "conflict", f"{policy_id} {version} changed or was used concurrently; reload it")
    target = f"policy:{policy_id}/{version}"
    audit.record(db, who, at, "policy.withdraw", target, before=row.text_sha256, policy_sha256=row.sha256)
    unshadowed = _drop_shadow(db, who, at, policy_id, version)
    commit(db, f"{policy_id} {version} was used concurrently; it stays")
    return {"withdrawn": gone, "shadow_cleared": unshadowed}


def _drop_shadow(db: Session, who: Principal, at: datetime, policy_id: str, version: str) -> dict[str, Any] | None:
    """A withdrawn version shadows nothing any more: clear its shadow setting, audited as
    `policy.unshadow` (as `DELETE /policies/{id}/shadow` is), and return what it was (None if it shadowed nothing)."""
    shadow = db.get(PolicyShadow, policy_id)
    if shadow is None or shadow.version != version:
        return None
    was = shadow_dict(shadow)
    db.delete(shadow)
    target = f"policy:{policy_id}"
    audit.record(db, who, at, "policy.unshadow", target, before=audit.state_hash(was), version=version, withdrawn=True)
    return was


def list_policies(db: Session) -> dict[str, Any]:
    """Every policy with its versions, by id then version."""
    rows = db.scalars(select(PolicyVersion).order_by(PolicyVersion.policy_id, PolicyVersion.version)).all()
    grouped: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        grouped.setdefault(r.policy_id, []).append(version_dict(r))
    return {"policies": [{"policy_id": pid, "versions": vs} for pid, vs in grouped.items()]}


def list_versions(db: Session, policy_id: str) -> dict[str, Any]:
    """One policy's versions (404 when it has none)."""
    rows = db.scalars(
        select(PolicyVersion).where(PolicyVersion.policy_id == policy_id).order_by(PolicyVersion.version)
    ).all()
    if not rows:
        raise ApiError(404, "policy-not-found", f"there is no policy {policy_id!r}")
    return {"policy_id": policy_id, "versions": [version_dict(r) for r in rows]}


def diff(db: Session, policy_id: str, from_: str, to: str) -> dict[str, Any]:
    """The engine's semantic diff between two stored versions."""
    old, new = get_version(db, policy_id, from_), get_version(db, policy_id, to)
    changes = diff_policies(load_policy(db, old.sha256), load_policy(db, new.sha256))
    return {
        "policy_id": policy_id,
        "from": {"version": old.version, "sha256": old.sha256},
        "to": {"version": new.version, "sha256": new.sha256},
        "changes": list(changes),
    }


def versions_of(db: Session, policy_id: str) -> list[PolicyVersion]:
    """Every stored version of `policy_id` (empty when there is no such policy)."""
    return list(db.scalars(select(PolicyVersion).where(PolicyVersion.policy_id == policy_id)).all())
