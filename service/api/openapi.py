"""The OpenAPI document tells the whole truth: every error answer each operation can give.

FastAPI documents only the success answer and its own 422 (with a schema the API never sends:
every error here is an RFC 9457 `application/problem+json` document, see `errors.py`). A client
generated from such a document cannot know that a route answers 401/403 without the right token,
404 for an unknown id, 409 on a conflicting change, 412/428 for a stale or missing `If-Match`,
413 for a body over the limit. Here the answers are derived centrally, per operation, from what
the route itself declares, so a new route is documented truthfully without anyone remembering to:

* a `require(...)` dependency (`deps.require` marks it with `merit_roles`) -> 401, 403, and the
  bearer security scheme;
* a path parameter (an id or a name of something stored) -> 404;
* a request body -> 413 and 422; any parameter or body -> 422; a body that names stored things
  (a `policy_id`, a `fact_import_id`, ...) or a query naming a policy -> 404;
* a method that writes -> 409 (a constraint race or an illegal state transition);
* an `If-Match` header -> 412 and 428; an `If-None-Match` header -> 304;
* any 4xx/5xx a route declares itself (`responses={503: {...}}`) gets the problem schema.

What a create answers is what the next requests name: a `201` of `POST /runs` carries the new
run's `id`, which `GET /runs/{run_id}` and every other operation below that path take. Those
links are added too (OpenAPI `links`), so a client, or a stateful test, can follow them.

A period is written the same way everywhere (`2026-08`, `2026-Q3`; `engine.periods`), so every
body field named `period` carries that pattern, and every `period` query parameter the same or
empty (a filter left empty filters nothing): a client (or a fuzzer) learns the form from the
document instead of from a 422.

`Problem` below is the problem document `errors.problem_response` writes, as a Pydantic model.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field

from service.api.deps import route_roles
from service.api.errors import PROBLEM_JSON, TYPE_BASE

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: body or query fields that name a stored thing: an unknown one is a 404, not a 422
REFERENCE_FIELDS = frozenset({"policy_id", "fact_import_id", "scenario_id", "run_id", "import_id", "version"})
#: `engine.periods.parse_period`: surrounding blanks are stripped; `\\d` as in Python's `re`
PERIOD_PATTERN = r"^\s*\d{4}-(0[1-9]|1[0-2]|Q[1-4])\s*$"
#: a query filter: empty means "any period"
PERIOD_FILTER_PATTERN = r"^\s*(\d{4}-(0[1-9]|1[0-2]|Q[1-4]))?\s*$"
_COMPONENT = "#/components/schemas/{model}"
_SECURITY = "bearer"


class LocatedProblem(BaseModel):
    """One problem with the input, located as precisely as its format allows."""

    source: str = Field(description="where: 'body', 'query', 'path', 'request', a file or policy name")
    line: int | None = Field(description="line (or row) of a file, 1-based; null when not applicable")
    column: int | None = Field(description="column, 1-based; null when not applicable")
    field: str = Field(description="the field or column at fault ('' for the whole input)")
    message: str = Field(description="what is wrong and what to write instead")


class Problem(BaseModel):
    """An RFC 9457 problem document: every error answer of the API."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"additionalProperties": True})

    type: str = Field(description=f"a stable URI per kind of failure, {TYPE_BASE}<kind>: branch on this")
    title: str = Field(description="the HTTP status's reason phrase")
    status: int = Field(description="the HTTP status code")
    detail: str = Field(description="for humans")
    problems: list[LocatedProblem] | None = Field(
        default=None, description="input errors only: every problem found, each with its place"
    )
    request_id: str | None = Field(
        default=None, description="the request's X-Request-ID (the client's if sane, else generated): quote it"
    )


_DESCRIPTIONS = {
    304: "Not Modified: the version still has the ETag sent in If-None-Match",
    401: "no bearer token, or an unknown or revoked one",
    403: "the token's role or scope may not do this",
    404: "something the request names does not exist",
    409: "the change conflicts with the stored state or a concurrent change",
    412: "If-Match does not match the current ETag",
    413: "the body is over the size limit",
    422: "the request or its input is not valid; `problems` lists every problem with its place",
    428: "If-Match is required to replace an existing version",
}


def install(app: FastAPI) -> None:
    """Make `app.openapi()` return the document with every error answer (built once, then cached)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
                servers=app.servers,
            )
            document_problems(schema, api_routes(app))
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def api_routes(app: FastAPI) -> list[APIRoute]:
    """The documented routes, also where FastAPI keeps included routers unflattened."""
    try:
        from fastapi.routing import iter_route_contexts  # FastAPI >= 0.160 includes routers lazily

        routes: Iterable[Any] = (context.route for context in iter_route_contexts(app.routes))
    except ImportError:  # pragma: no cover - older FastAPI: app.routes is flat
        routes = app.routes
    return [r for r in routes if isinstance(r, APIRoute) and r.include_in_schema]


def document_problems(schema: dict[str, Any], routes: Iterable[APIRoute]) -> None:
    """Add each route's error answers (problem+json) to its operations in `schema`, in place."""
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    problem_schema = Problem.model_json_schema(ref_template=_COMPONENT)
    schemas.update(problem_schema.pop("$defs", {}))
    schemas["Problem"] = problem_schema
    secured = False
    for route in routes:
        statuses = error_statuses(route)
        for method in route.methods or ():
            operation = schema.get("paths", {}).get(route.path_format, {}).get(method.lower())
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            for status in sorted(statuses | _declared_errors(responses)):
                responses[str(status)] = _response(status, responses.get(str(status)))
            if {401, 403} <= statuses:
                operation["security"] = [{_SECURITY: []}]
                secured = True
    if secured:
        components.setdefault("securitySchemes", {})[_SECURITY] = {
            "type": "http",
            "scheme": "bearer",
            "description": "a token from `merit token create`; its role decides what the caller may do",
        }
    _drop_unused(schema, ("HTTPValidationError", "ValidationError"))
    _periods(schema)
    _no_nul(schema)
    _links(schema)


def error_statuses(route: APIRoute) -> set[int]:
    """The error statuses `route` can answer with, read from what it declares (see module doc)."""
    dependant = route.dependant
    statuses: set[int] = set()
    if route_roles(route) is not None:
        statuses |= {401, 403}
    params = list(_flat(dependant, "path_params"))
    queries = list(_flat(dependant, "query_params"))
    headers = {p.alias.lower() for p in _flat(dependant, "header_params")}
    bodies = list(_flat(dependant, "body_params"))
    has_body = bool(bodies) or "requestBody" in (route.openapi_extra or {})
    if params:
        statuses.add(404)
    if params or queries or has_body or headers:
        statuses.add(422)
    if has_body:
        statuses.add(413)
        if _names_stored(bodies):
            statuses.add(404)
    if any(q.alias in REFERENCE_FIELDS for q in queries):
        statuses.add(404)
    if (route.methods or set()) & WRITE_METHODS:
        statuses.add(409)
    if "if-match" in headers:
        statuses |= {412, 428}
    if "if-none-match" in headers:
        statuses.add(304)
    return statuses


def _flat(dependant: Any, kind: str) -> Iterator[Any]:
    """Parameters of one kind, also those of sub-dependencies (FastAPI documents both)."""
    stack = [dependant]
    while stack:
        current = stack.pop()
        yield from getattr(current, kind)
        stack.extend(current.dependencies)


def _names_stored(bodies: list[Any]) -> bool:
    """Whether a JSON body (or any model nested in it) has a field naming a stored thing."""
    seen: set[type] = set()
    stack = [getattr(b.field_info, "annotation", None) for b in bodies]
    while stack:
        model = stack.pop()
        if not isinstance(model, type) or not issubclass(model, BaseModel) or model in seen:
            continue
        seen.add(model)
        for name, info in model.model_fields.items():
            if name in REFERENCE_FIELDS or info.alias in REFERENCE_FIELDS:
                return True
            stack.extend(_models_in(info.annotation))
    return False


def _models_in(annotation: Any) -> Iterator[Any]:
    yield annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        yield from _models_in(arg)


def _declared_errors(responses: dict[str, Any]) -> set[int]:
    return {int(code) for code in responses if code.isdigit() and int(code) >= 400}


def _response(status: int, existing: dict[str, Any] | None) -> dict[str, Any]:
    description = (existing or {}).get("description")
    if not description or description in ("Validation Error", "Successful Response"):
        description = _DESCRIPTIONS.get(status) or HTTPStatus(status).phrase
    if status == 304:
        return {"description": description}
    response: dict[str, Any] = {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": {"$ref": _COMPONENT.format(model="Problem")}}},
    }
    if status == 401:
        response["headers"] = {
            "WWW-Authenticate": {"description": "the bearer challenge", "schema": {"type": "string"}}
        }
    return response


def _drop_unused(schema: dict[str, Any], names: Iterable[str]) -> None:
    """FastAPI's validation-error models, once no operation refers to them any more."""
    schemas = schema.get("components", {}).get("schemas", {})
    text = json.dumps(schema.get("paths", {}))
    for name in names:
        if name in schemas and _COMPONENT.format(model=name) not in text:
            del schemas[name]
    # ValidationError is referred to only by HTTPValidationError
    if "HTTPValidationError" not in schemas:
        schemas.pop("ValidationError", None)


def _periods(schema: dict[str, Any]) -> None:
    """Give every string named `period` (parameter or body field) the pattern of a period."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("name") == "period":
                    optional = parameter.get("in") == "query" and not parameter.get("required")
                    _pattern(parameter.get("schema", {}), PERIOD_FILTER_PATTERN if optional else PERIOD_PATTERN)
    for model in schema.get("components", {}).get("schemas", {}).values():
        period = model.get("properties", {}).get("period")
        if period is not None:
            _pattern(period, PERIOD_PATTERN)


#: Text with no NUL character: the service refuses NUL everywhere (PostgreSQL cannot hold it), so
#: the document says so for every text parameter and body field that has no pattern of its own.
NO_NUL_PATTERN = r"^[^\u0000]*$"


def _no_nul(schema: dict[str, Any]) -> None:
    """Give every text parameter and text body field without a pattern the no-NUL pattern."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                _pattern(parameter.get("schema", {}), NO_NUL_PATTERN)
    for model in schema.get("components", {}).get("schemas", {}).values():
        for field in model.get("properties", {}).values():
            if "format" in field or "contentMediaType" in field:
                continue  # an uploaded file's bytes, not text
            _pattern(field, NO_NUL_PATTERN)
            _pattern(field.get("items", {}), NO_NUL_PATTERN)


def _pattern(field: dict[str, Any], pattern: str) -> None:
    for option in [field, *field.get("anyOf", [])]:
        if option.get("type") == "string":
            option.setdefault("pattern", pattern)


def _links(schema: dict[str, Any]) -> None:
    """Link each create (a `201`) to the operations on what it created.

    `POST /runs` -> every operation on `/runs/{run_id}...`, its id from the answer's `id`;
    `PUT /policies/{policy_id}/versions/{version}` (the path names what it creates) -> the other
    operations on that path, with the same path parameters.
    """
    paths: dict[str, dict[str, Any]] = schema.get("paths", {})
    for path, operations in paths.items():
        for method, operation in operations.items():
            created = operation.get("responses", {}).get("201")
            if created is None:
                continue
            links: dict[str, Any] = {}
            for other_path, others in paths.items():
                params = _link_parameters(path, other_path)
                if params is None:
                    continue
                for other_method, other in others.items():
                    if (other_path, other_method) != (path, method) and "operationId" in other:
                        name = f"{other_method.upper()} {other_path}"
                        links[name] = {"operationId": other["operationId"], "parameters": params}
            if links:
                created["links"] = links


def _link_parameters(created: str, target: str) -> dict[str, str] | None:
    """How `target`'s path parameters come from a create on `created`, or None when unrelated."""
    own = {name: f"$request.path.{name}" for name in _path_names(created)}
    if target == created:
        return own or None
    if not target.startswith(created + "/{"):
        return None
    extra = [name for name in _path_names(target) if name not in own]
    if len(extra) != 1 or not target[len(created) + 1 :].startswith("{" + extra[0] + "}"):
        return None
    return {**own, extra[0]: "$response.body#/id"}


def _path_names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{") and part.endswith("}")]
