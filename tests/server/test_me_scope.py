"""``GET /v1/me`` answers, for every role, the scope docs/protocol.md shows for it."""

from __future__ import annotations

import json
import re

from tests.server.conftest import Served
from tests.server.test_protocol_doc import section

# The seeded person of each role; officer and chief belong to station st-a, as in the doc.
PERSON = {"officer": "off-a", "chief": "chief-a", "analyst": "analyst", "admin": "admin"}


def documented_scopes() -> dict[str, object]:
    rows = re.findall(r"^\| `([a-z]+)` \| `(\{.*\})` \|$", section("`GET /v1/me`"), re.M)
    return {role: json.loads(scope) for role, scope in rows}


async def test_me_scope_of_every_role_is_the_documented_one(served: Served) -> None:
    documented = documented_scopes()
    assert set(documented) == set(PERSON), documented
    for role, person in PERSON.items():
        answer = await served.client.get("/v1/me", headers=served.auth(person))
        assert answer.status_code == 200
        assert answer.json()["scope"] == documented[role], role


def test_admin_reads_no_records_and_no_personal_data() -> None:
    # Said outright, because `null` would mean "every station" (a wider read than anyone's).
    assert documented_scopes()["admin"] == {"stations": [], "pii": "none"}
    roles = section("Roles and scope")
    admin = next(line for line in roles.splitlines() if line.startswith("| `admin` |"))
    assert "none (`none`)" in admin
