"""Reading the web pages' form posts within limits.

Starlette's ``request.form()`` reads a body of any size (a multipart file is spooled to disk
without a cap), so every web form goes through ``read_form``: the body is read up to a cap
(413 ``payload_too_large`` beyond it, whether or not ``Content-Length`` told), then parsed
with bounded field and file counts. Only the two form media types are read.
"""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.types import Message

from server.body import read_capped
from sync.errors import UnsupportedMediaType

# A sign-in, a review decision or an enrolment is a few hundred bytes; a notice's text is at
# most 2,000 characters (8 KiB of UTF-8) before URL encoding triples it.
FORM_MAX_BYTES = 64 * 1024
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def read_form(
    request: Request, max_bytes: int = FORM_MAX_BYTES, max_files: int = 0
) -> FormData:
    """The posted form; refuses other media types, bodies over ``max_bytes`` and more than
    ``max_files`` files."""
    media = (request.headers.get("content-type") or "").partition(";")[0].strip().lower()
    if media not in FORM_TYPES:
        raise UnsupportedMediaType(
            "a web form is sent as a form",
            {"content_type": media[:80], "supported": list(FORM_TYPES)},
        )
    body = await read_capped(request, max_bytes)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    parsed = Request(request.scope, replay)
    return await parsed.form(max_files=max_files, max_fields=100, max_part_size=max_bytes)
