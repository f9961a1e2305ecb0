"""The contract's checks of people and devices: stations and officers, enrollment codes used
once and expiring, revocation, web passwords, failed sign-ins, sessions and the audit log.
"""

from __future__ import annotations

from sync.errors import AlreadyExists, EnrollmentInvalid
from sync.store.base import Store
from sync.store.contract.data import seed
from sync.store.records import (
    AuditEvent,
    Credential,
    Device,
    Enrollment,
    LoginKey,
    Officer,
    Station,
    WebSession,
)


async def check_people(store: Store) -> None:
    await seed(store)
    await store.put_station(Station("s1", "Uno bis", "150101"))
    assert [s.name for s in await store.list_stations()] == ["Uno bis", "Dos"]
    assert await store.get_officer("o1") == Officer("o1", "Ana", "officer", "s1")
    assert await store.get_officer("nobody") is None
    assert [o.id for o in await store.list_officers("s1")] == ["o1", "o2"]


async def check_enrollment_once(store: Store) -> None:
    await seed(store)
    await store.add_enrollment(Enrollment("code-h", "o1", expires_ms=1000, created_by="admin"))
    device = await store.redeem_enrollment("code-h", Device("dv1", "", "phone", 10), "tok-h", 10)
    assert device.officer_id == "o1"
    identity = await store.identity_for_token("tok-h")
    assert identity is not None and identity.role == "officer" and identity.station_id == "s1"
    for code, now in (("code-h", 11), ("unknown", 11)):
        try:
            await store.redeem_enrollment(code, Device("dv2", "", "x", now), "tok-2", now)
        except EnrollmentInvalid:
            continue
        raise AssertionError(f"code {code} redeemed twice or unknown code accepted")


async def check_enrollment_expiry(store: Store) -> None:
    await seed(store)
    await store.add_enrollment(Enrollment("code-e", "o1", expires_ms=1000, created_by="admin"))
    try:
        await store.redeem_enrollment("code-e", Device("dv1", "", "phone", 1000), "t", 1000)
    except EnrollmentInvalid:
        return
    raise AssertionError("an expired code was accepted")


async def check_revocation(store: Store) -> None:
    await seed(store)
    await store.add_token(Device("dv1", "o1", "phone", 1), "tok-1")
    try:
        await store.add_token(Device("dv1", "o1", "phone", 1), "tok-other")
        raise AssertionError("duplicate device id accepted")
    except AlreadyExists:
        pass
    assert await store.identity_for_token("tok-1") is not None
    assert await store.revoke_device("dv1", 5)
    assert await store.identity_for_token("tok-1") is None
    assert not await store.revoke_device("nope", 5)
    assert [d.revoked_ms for d in await store.list_devices("o1")] == [5]


async def check_credentials(store: Store) -> None:
    await seed(store)
    assert await store.credential("o2") is None
    await store.put_credential(Credential("o2", "$argon2id$hash"))
    assert await store.credential("o2") == Credential("o2", "$argon2id$hash", 0, 0)
    await store.put_credential(Credential("o2", "$argon2id$other"))  # replaced, not added
    assert await store.credential("o2") == Credential("o2", "$argon2id$other", 0, 0)


async def check_login_failures(store: Store) -> None:
    pair = LoginKey("pair", "o2", "10.0.0.1")
    officer, address = LoginKey("officer", "o2"), LoginKey("address", "", "10.0.0.1")
    other = LoginKey("pair", "o2", "10.0.0.2")
    assert await store.login_failures([pair, officer], 0) == {}
    for now in (1000, 1100, 1200):
        await store.add_login_failure([pair, officer, address], now, 0)
    await store.add_login_failure([other], 1300, 0)
    counts = await store.login_failures([pair, officer, address, other], 0)
    assert counts == {pair: (3, 1200), officer: (3, 1200), address: (3, 1200), other: (1, 1300)}
    assert await store.login_failures([pair, other], 1250) == {other: (1, 1300)}  # pair is stale
    await store.add_login_failure([pair], 2000, 1250)  # stale counts start again at 1
    assert (await store.login_failures([pair], 0))[pair] == (1, 2000)
    await store.clear_login_failures("o2", "10.0.0.1")
    left = await store.login_failures([pair, officer, address, other], 0)
    assert set(left) == {other}  # the pair with that address and the officer count only
    await store.clear_login_failures("o2")
    assert await store.login_failures([other], 0) == {}
    assert await store.login_failures([], 0) == {}


async def check_sessions_and_audit(store: Store) -> None:
    await seed(store)
    await store.add_session(WebSession("sh", "o2", "csrf-1", expires_ms=100))
    found = await store.session("sh", 50)
    assert found is not None
    session, who = found
    assert session.csrf == "csrf-1" and (who.role, who.station_id) == ("chief", "s1")
    assert await store.session("sh", 100) is None  # expired
    await store.drop_session("sh")
    assert await store.session("sh", 50) is None
    await store.add_audit(AuditEvent(5, "o2", "view_pii", "r1", {"fields": ["victims"]}))
    await store.add_audit(AuditEvent(6, "o2", "export", "incidents", {}))
    events = await store.audit_events(0, 10)
    assert [e.action for _, e in events] == ["view_pii", "export"]
    assert events[0][1].details == {"fields": ["victims"]}
    assert [e.action for _, e in await store.audit_events(events[0][0], 10)] == ["export"]
