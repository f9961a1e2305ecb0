"""Every web form is read within limits (server/web/forms.py): a body over the cap is 413
whether or not Content-Length says so, and a body that is not a form is 415. Before, Starlette
read a form body of any size (a multipart file spooled to disk without a cap)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from tests.server.conftest import Served


async def test_a_sign_in_form_over_the_cap_is_refused(served: Served) -> None:
    big = {"officer_id": "chief-a", "password": "x" * (70 * 1024), "csrf": "x"}
    refused = await served.client.post("/login", data=big)
    assert refused.status_code == 413, refused.text
    assert refused.json()["error"]["code"] == "payload_too_large"

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        yield b"officer_id=chief-a&password="
        for _ in range(80):
            yield b"x" * 1024

    streamed = await served.client.post(
        "/login",
        content=chunks(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert streamed.status_code == 413, streamed.text


async def test_a_form_page_refuses_a_body_that_is_not_a_form(served: Served) -> None:
    refused = await served.client.post("/login", json={"officer_id": "chief-a"})
    assert refused.status_code == 415, refused.text
    assert refused.json()["error"]["code"] == "unsupported_media_type"
    # A file where a sign-in form has none is refused too (no spooling of what is not asked).
    files = {"f": ("a.bin", b"0" * 100, "application/octet-stream")}
    sent = await served.client.post("/login", data={"officer_id": "chief-a"}, files=files)
    assert sent.status_code == 400, sent.text
