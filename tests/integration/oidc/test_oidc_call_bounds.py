"""A Cookie header padded with made-up refresh tokens, against the real oidc-provider: it must not
multiply the provider calls (refresh grants, revocations) or the tombstones one request makes."""

from __future__ import annotations

import pytest

from ssrauth import ManualClock, SessionManager
from ssrauth._core.tokens import token_digest
from tests.integration.oidc.idp import AT_TTL, TestIdp
from tests.integration.oidc.oidc_app import PREFIX, log_in
from tests.integration.rig.browsers import Browser
from tests.integration.rig.cookies import value_of

pytestmark = pytest.mark.anyio

REFRESH = "token:refresh_token"
REVOKE = "/token/revocation"


def _padded_header(browser: Browser, copies: int) -> str:
    """Alice's real (expired-access) session plus ``copies`` made-up refresh tokens, each under
    a name spelling of its own: what anyone with their own id token can send."""
    real = {f: value_of(browser.jar, f"{PREFIX}.alice.{f}")
            for f in ("idToken", "accessToken", "refreshToken", "expiresAt")}
    parts = [f"{PREFIX}.LastAuthUser=alice"]
    parts += [f"{PREFIX}.alice.{f}={v}" for f, v in real.items() if f != "refreshToken"]
    parts += [f"{PREFIX}.alice.refreshToken=made-up-{i}" for i in range(copies)]
    parts.append(f"{PREFIX}.alice.refreshToken={real['refreshToken']}")
    return "; ".join(parts)


async def test_many_refresh_token_copies_do_not_multiply_refresh_grants(
    browser: Browser, idp: TestIdp, clock: ManualClock
) -> None:
    await log_in(browser, idp)
    clock.advance(AT_TTL + 5)
    header = _padded_header(browser, 40)
    idp.reset_counts()
    answer = await browser.get("/api/me", cookie_header=header)
    assert answer.status_code in (401, 200)
    assert idp.proxy.count(REFRESH) <= 8


async def test_many_refresh_token_copies_do_not_multiply_revocations(
    browser: Browser, idp: TestIdp, manager: SessionManager
) -> None:
    await log_in(browser, idp)
    real = value_of(browser.jar, f"{PREFIX}.alice.refreshToken")
    header = _padded_header(browser, 40)
    idp.reset_counts()
    answer = await browser.post("/signout", cookie_header=header)
    assert answer.status_code == 200
    assert idp.proxy.count(REVOKE) <= 8
    # Sign-out is still final: every token the request carried is tombstoned.
    assert manager.coordinator.is_revoked(token_digest(real))
    assert manager.coordinator.is_revoked(token_digest("made-up-39"))


async def test_a_padded_sign_out_writes_a_bounded_number_of_tombstones(
    browser: Browser, idp: TestIdp, manager: SessionManager
) -> None:
    """Each tombstone is a store write with a shared coordinator: 300 made-up tokens must not
    cost 300 of them. The session's own token, sent before the padding, is tombstoned."""
    await log_in(browser, idp)
    real = value_of(browser.jar, f"{PREFIX}.alice.refreshToken")
    header = _padded_header(browser, 300).replace(
        f"{PREFIX}.LastAuthUser=alice", f"{PREFIX}.LastAuthUser=alice; "
        f"{PREFIX}.alice.refreshToken={real}")
    answer = await browser.post("/signout", cookie_header=header)
    assert answer.status_code == 200
    assert manager.coordinator.is_revoked(token_digest(real))
    made_up = [token_digest(f"made-up-{i}") for i in range(300)]
    assert 0 < sum(manager.coordinator.is_revoked(d) for d in made_up) < 64
