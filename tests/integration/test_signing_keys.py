"""The pool's signing keys over real HTTP on loopback (``rig.keys.KeyServer``), through the ASGI
middleware: a rotation is picked up within seconds, a flood of made-up key ids costs one fetch
per interval, and a failed fetch at a cold start is retried after half a second, not a minute.
The clock stands still between steps (no provider here is bound to a ``ManualClock``), so an
interval is a clock step however slow the machine."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator

import jwt
import pytest

from ssrauth import JwksSource, SessionManager
from ssrauth._providers.jwks import DEFAULT_REFETCH_INTERVAL
from tests.integration.rig.apps import build_app
from tests.integration.rig.browsers import Browser
from tests.integration.rig.keys import KeyServer, signed_in
from tests.unit.factory import KEYS, Minter, StoppedClock, pool_key

pytestmark = pytest.mark.anyio


@pytest.fixture
def key_server() -> Iterator[KeyServer]:
    server = KeyServer(pool_key())
    yield server
    server.stop()


@pytest.fixture
def clock() -> StoppedClock:
    return StoppedClock(time.time())


@pytest.fixture
def keyed_manager(key_server: KeyServer, clock: StoppedClock) -> Iterator[SessionManager]:
    with SessionManager(key_server.config(), clock=clock) as manager:
        yield manager


async def test_a_token_signed_with_a_rotated_key_authenticates_within_the_refetch_interval(
    keyed_manager: SessionManager, key_server: KeyServer, clock: StoppedClock
) -> None:
    browser = Browser(build_app(keyed_manager))
    assert (await browser.get("/api/me", cookie_header=signed_in(pool_key(), clock))
            ).status_code == 200
    new_key = pool_key("k2")
    key_server.publish(pool_key(), new_key)  # the pool rotates and signs with the new key
    rotated = signed_in(new_key, clock)
    clock.advance(1)

    early = await browser.get("/api/me", cookie_header=rotated)  # keys fetched a second ago
    clock.advance(DEFAULT_REFETCH_INTERVAL)
    later = await browser.get("/api/me", cookie_header=rotated)

    assert early.status_code == 401
    assert "set-cookie" not in early.headers  # unjudged, not deleted
    assert later.status_code == 200
    assert later.json()["username"] == "alice"
    assert key_server.fetches == 2


async def test_a_flood_of_random_key_ids_costs_at_most_one_fetch_per_interval(
    keyed_manager: SessionManager, key_server: KeyServer, clock: StoppedClock
) -> None:
    browser = Browser(build_app(keyed_manager))
    await browser.get("/api/me", cookie_header=signed_in(pool_key(), clock))
    attacker = Minter(pool_key("attacker"))
    chance = random.Random(7)
    claims = attacker.claims("access", "alice", iat=int(clock.now()))

    statuses = set()
    for _ in range(1000):
        forged = jwt.encode(claims, attacker.key.private_key, algorithm="RS256",
                            headers={"kid": f"{chance.getrandbits(64):016x}"})
        header = f"{KEYS.last_auth_user_name}=alice; {KEYS.name('alice', 'accessToken')}={forged}"
        statuses.add((await browser.get("/api/me", cookie_header=header)).status_code)

    assert statuses == {401}
    assert key_server.fetches <= 2  # the cold start's, and at most one more


async def test_a_failed_fetch_at_a_cold_start_is_retried_after_half_a_second(
    keyed_manager: SessionManager, key_server: KeyServer, clock: StoppedClock
) -> None:
    browser = Browser(build_app(keyed_manager))
    header = signed_in(pool_key(), clock)
    key_server.down = True

    during = [(await browser.get("/api/me", cookie_header=header)).status_code
              for _ in range(3)]
    key_server.down = False
    clock.advance(0.5)
    after = await browser.get("/api/me", cookie_header=header)

    assert during == [503, 503, 503]  # one failed fetch; the next two wait for the retry
    assert after.status_code == 200
    assert key_server.fetches == 2


async def test_a_tuned_source_keeps_its_own_interval(
    key_server: KeyServer, clock: StoppedClock
) -> None:
    source = JwksSource(refetch_interval=60.0)
    with SessionManager(key_server.config(), clock=clock, jwks=source) as manager:
        browser = Browser(build_app(manager))
        await browser.get("/api/me", cookie_header=signed_in(pool_key(), clock))
        key_server.publish(pool_key(), pool_key("k2"))
        clock.advance(DEFAULT_REFETCH_INTERVAL)

        answer = await browser.get("/api/me", cookie_header=signed_in(pool_key("k2"), clock))

    assert manager.jwks is source
    assert answer.status_code == 401
    assert key_server.fetches == 1
