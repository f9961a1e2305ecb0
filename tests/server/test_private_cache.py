"""Answers with a caller's own data say ``Cache-Control: private, no-store`` unless they
chose their caching themselves (found missing on the sync API, conflicts, analysis and the
CompStat CSV by a review, 2026-12-04)."""

from __future__ import annotations

from tests.attachments.support import jpeg_with_gps, push_incident, ref, sha, upload
from tests.server.conftest import Served, sign_in_web
from tests.support import batch

NO_STORE = "private, no-store"


async def test_private_answers_are_not_stored(served: Served) -> None:
    client, auth = served.client, served.auth("off-a")
    data = jpeg_with_gps()
    await push_incident(client, auth, "inc-1", [ref(data)])
    await upload(client, auth, data, "inc-1")
    chief = served.auth("chief-a")
    for path, who in (
        ("/v1/sync/pull", auth),
        ("/v1/sync/snapshot", auth),
        ("/v1/me", auth),
        ("/v1/conflicts", chief),
        ("/v1/analysis/compstat?date=2026-11-30", chief),
        ("/v1/analysis/compstat.csv?date=2026-11-30", chief),
        ("/v1/sync/pull?cursor=zz", auth),  # an error answer too
    ):
        answer = await client.get(path, headers=who)
        assert answer.headers.get("cache-control") == NO_STORE, (path, answer.status_code)
    pushed = await client.post("/v1/sync/push", json=batch([]), headers=auth)
    assert pushed.headers["cache-control"] == NO_STORE
    # answers that chose their caching keep it: a file is revalidated by its ETag
    got = await client.get(f"/v1/attachments/incidents/inc-1/{sha(data)}", headers=auth)
    assert got.status_code == 200 and got.headers["cache-control"] != NO_STORE
    await sign_in_web(served, "chief-a", "una-clave-larga-1")
    sheet = await client.get("/compstat.csv", params={"date": "2026-11-30"})
    assert sheet.status_code == 200 and sheet.headers["cache-control"] == NO_STORE
