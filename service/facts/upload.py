"""Reading a fact upload off the wire: multipart, size-capped while read, after the token check.

Size is capped while the upload is read (413), after the token was checked, so one upload cannot
exhaust the server; the form fields `sheet`, `columns` and `drop_totals` say how to read the file.
"""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator
from typing import Any, BinaryIO

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from engine.factheader import parse_column_map
from engine.facts import ReadOptions
from engine.problems import MeritInputError, Problem
from service.api.errors import ApiError

_MULTIPART_SLACK = 64 * 1024  # boundaries and part headers around the file itself
UPLOAD_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary", "description": "CSV/TXT, XLSX, ODS or JSON"},
                        "sheet": {"type": "string", "description": "the sheet, when several visible sheets hold data"},
                        "columns": {"type": "string", "description": "YAML 'columns: {业绩: actual}' header names"},
                        "drop_totals": {"type": "boolean", "description": "leave totals rows out (with a note)"},
                        "kind": {
                            "type": "string",
                            "enum": ["facts", "deals", "payments", "targets"],
                            "description": "facts (default), or a file monthly facts are credited from",
                        },
                    },
                }
            }
        },
    }
}


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "upload-too-large", f"a fact file may be at most {limit} bytes", limit=limit)


def _bad_request(message: str) -> ApiError:
    return ApiError(422, "invalid-request", message, [Problem("request", None, None, "file", message)])


_COLUMNS_LIMIT = 64 * 1024  # bytes of a column map


async def _read_limited(upload: UploadFile, limit: int) -> bytes:
    """The file's bytes, read in one piece from where the multipart parser spooled them.

    The parser writes a file part to a temporary file once it passes 1 MiB (Starlette's
    `SpooledTemporaryFile`), chunk by chunk as it arrives, and the stream feeding it is cut at the
    limit: the body is never held in memory while it arrives. Its size is known before it is read,
    so it is read once, into one buffer (no list of chunks joined into a second copy).
    """
    size = upload.size
    if size is None:
        size = await run_in_threadpool(_size_of, upload.file)
    if size > limit:
        raise _too_large(limit)
    await upload.seek(0)
    data = await upload.read()
    if len(data) > limit:  # the size Starlette counted and the bytes spooled cannot differ; never trust it
        raise _too_large(limit)
    return data


def _size_of(file: BinaryIO) -> int:
    return file.seek(0, os.SEEK_END)


KINDS = ("facts", "deals", "payments", "targets")
"""What an import holds: monthly facts, or one of the three files facts are credited from."""


async def receive_file(request: Request, limit: int) -> tuple[bytes, str, str | None, ReadOptions, str]:
    """The multipart field `file`, read after authentication and never past the size limit.

    The form is parsed here rather than by FastAPI (an `UploadFile` parameter), because FastAPI
    parses a form before any dependency runs: an anonymous client could make the server spool
    an unbounded chunked upload to disk before hearing 401.
    """
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        raise _bad_request("send the fact file as multipart/form-data in the field 'file'")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + _MULTIPART_SLACK:
        raise _too_large(limit)

    async def limited() -> AsyncGenerator[bytes, None]:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit + _MULTIPART_SLACK:
                raise _too_large(limit)
            yield chunk

    # two files at most: `file`, and `columns` sent as a file (`curl -F columns=@map.yaml`)
    parser = MultiPartParser(request.headers, limited(), max_files=2, max_fields=20)
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        why = exc.message
        if why.startswith("Too many files"):
            why += " ('file', and 'columns' may be a file; send 'kind', 'sheet' and 'drop_totals' as text fields)"
        raise _bad_request(f"the multipart body cannot be read: {why}") from exc
    try:
        if len(form.getlist("file")) > 1:
            raise _bad_request("the multipart field 'file' is given more than once: send one file per import")
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise _bad_request("the multipart field 'file' (a file) is missing")
        data = await _read_limited(upload, limit)
        kind = form.get("kind") or "facts"
        if kind not in KINDS:
            raise _bad_request(f"the form field 'kind' must be one of {', '.join(KINDS)}")
        options = _read_options(form, await _columns_file(form))
        if kind != "facts" and not options.plain:
            raise _bad_request("sheet, columns and drop_totals read a fact file; a deal file takes none of them")
        return data, upload.filename or "upload", upload.content_type, options, str(kind)
    finally:
        await form.close()


async def _columns_file(form: Any) -> str | None:
    """The column map sent as a file part (`-F columns=@map.yaml`), as text; None when it is not a file."""
    part = form.get("columns")
    if not isinstance(part, UploadFile):
        return None
    raw = await part.read(_COLUMNS_LIMIT + 1)
    try:
        return raw.decode("utf-8-sig") if len(raw) <= _COLUMNS_LIMIT else "\0"
    except UnicodeDecodeError:
        return "\0"  # refused below as not short text


def _read_options(form: Any, columns_file: str | None = None) -> ReadOptions:
    """The form fields `sheet`, `columns` (the YAML of a column map, as text or as a file) and `drop_totals`."""

    def text(name: str) -> str | None:
        value = form.get(name)
        if value is None or isinstance(value, UploadFile):
            return None if value is None else "\0"  # a file where text belongs: refused below
        return str(value)

    columns = columns_file if columns_file is not None else text("columns")
    sheet, drop = text("sheet"), (text("drop_totals") or "").strip().lower()
    for name, value in (("sheet", sheet), ("columns", columns)):
        if value is not None and ("\0" in value or len(value) > (200 if name == "sheet" else _COLUMNS_LIMIT)):
            what = "short text" if name == "sheet" else "UTF-8 YAML text of at most 64 KiB (as a field or a file)"
            raise _bad_request(f"the form field {name!r} must be {what}")
    if drop not in ("", "true", "false", "1", "0", "yes", "no"):
        raise _bad_request("the form field 'drop_totals' must be true or false")
    try:
        mapping = parse_column_map(columns.encode(), "columns") if columns else {}
    except MeritInputError as err:
        raise ApiError(422, "invalid-request", "the column map cannot be used", err.problems) from err
    return ReadOptions(sheet=sheet or None, columns=mapping, drop_totals=drop in ("true", "1", "yes"))
