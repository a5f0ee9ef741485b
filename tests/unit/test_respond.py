"""What every adapter does to a response (``_adapters/respond.py``): the core's headers merged
into the application's, and the refusal of a request that needs a user.

The rules: a cookie the application set itself (same name, domain and path, RFC 6265 §5.3 step
11) is left to it, so a response never carries two Set-Cookie lines for one cookie; a response
that sets auth cookies says ``Cache-Control: no-store`` instead of whatever the application said
(a shared cache must never replay it to someone else); a response with nothing to add is left
exactly as it was. Plain values: decisions of the core on hand-built Cookie headers, no network.
"""

from __future__ import annotations

from ssrauth import (
    CognitoConfig,
    LocalCoordinator,
    ManualClock,
    ProviderUnavailable,
    SessionManager,
)
from ssrauth._adapters.respond import added_headers, merged_headers, nothing_to_add, refusal
from ssrauth._core.cookies import parse_set_cookie_target
from ssrauth._core.plan import RequestTarget
from ssrauth._manager.manager import RequestAuth
from tests.unit.factory import CLIENT_ID, HOST, KEYS, NOW, POOL_ID, jwks, signed_in_header

APP_HEADERS = [("content-type", "application/json"),
               ("cache-control", "private, max-age=60"),
               ("set-cookie", "theme=dark; Path=/"),
               ("x-request-id", "42")]
DRIFT = KEYS.name("alice", "clockDrift")


def manager() -> SessionManager:
    config = CognitoConfig(user_pool_id=POOL_ID, client_id=CLIENT_ID)
    clock = ManualClock()
    return SessionManager(config, clock=clock, coordinator=LocalCoordinator(clock=clock))


def kept(header: str) -> RequestAuth:
    """The request as the core judged it, nothing refreshed (a quiet request)."""
    owner = manager()
    decision = owner.rules.decide(header, RequestTarget("/", HOST), jwks(), NOW)
    return RequestAuth(owner, decision, owner.rules.keep(decision), None, header)


def signed_out(header: str = "") -> RequestAuth:
    """The session is over: the core deletes every variant of every cookie it was sent."""
    owner = manager()
    header = header or signed_in_header()
    decision = owner.rules.decide(header, RequestTarget("/", HOST), jwks(), NOW)
    return RequestAuth(owner, decision, owner.rules.clear(decision, "signed out"), None, header)


def set_cookie_lines(headers: list[tuple[str, str]]) -> list[str]:
    return [value for name, value in headers if name.lower() == "set-cookie"]


def targets(lines: list[str]) -> list[tuple[str, str | None, str]]:
    return [parse_set_cookie_target(line, "/") for line in lines]


def test_a_quiet_request_adds_nothing_and_leaves_the_headers_alone() -> None:
    auth = kept(signed_in_header())
    assert auth.session is not None
    assert nothing_to_add(auth)
    assert added_headers(auth, APP_HEADERS) == []
    assert merged_headers(auth, APP_HEADERS) is None


def test_no_cookies_add_nothing() -> None:
    auth = kept("")
    assert nothing_to_add(auth)
    assert merged_headers(auth, APP_HEADERS) is None


def test_no_store_replaces_the_apps_cache_control_and_keeps_everything_else() -> None:
    auth = signed_out()
    merged = merged_headers(auth, APP_HEADERS)
    assert merged is not None
    names = [name.lower() for name, _ in merged]
    assert names.count("cache-control") == 1
    assert ("Cache-Control", "no-store") in merged
    assert ("cache-control", "private, max-age=60") not in merged
    # The application's own headers stay, in their order, ahead of the core's.
    assert merged[:3] == [h for h in APP_HEADERS if h[0] != "cache-control"]
    assert set_cookie_lines(merged)[0] == "theme=dark; Path=/"
    assert any(line.startswith(f"{DRIFT}=") and "Max-Age=0" in line
               for line in set_cookie_lines(merged))


def test_header_names_are_matched_in_any_case() -> None:
    shouting = [("Cache-Control", "public"), ("SET-COOKIE", f"{DRIFT}=7; Path=/")]
    merged = merged_headers(signed_out(), shouting)
    assert merged is not None
    assert [v for n, v in merged if n.lower() == "cache-control"] == ["no-store"]
    drift_lines = [line for line in set_cookie_lines(merged)
                   if parse_set_cookie_target(line, "/") == (DRIFT, None, "/")]
    assert drift_lines == [f"{DRIFT}=7; Path=/"]


def test_the_apps_own_set_cookie_wins_for_the_same_cookie() -> None:
    """The app writes clockDrift itself at Path=/, host-only: the core's deletion of that very
    cookie is left out; its deletions of the other copies (another domain spelling) stay."""
    auth = signed_out()
    own = f"{DRIFT}=1234; Path=/; Secure; SameSite=Lax"
    merged = merged_headers(auth, [("set-cookie", own)])
    assert merged is not None
    lines = set_cookie_lines(merged)
    assert [line for line in lines if parse_set_cookie_target(line, "/") == (DRIFT, None, "/")
            ] == [own]
    assert len(targets(lines)) == len(set(targets(lines)))  # never two lines for one cookie
    others = {t for t in targets(lines) if t[0] != DRIFT}
    assert others >= {(KEYS.name("alice", "accessToken"), None, "/"),
                      (KEYS.last_auth_user_name, None, "/")}


def test_an_app_cookie_of_another_path_is_another_cookie() -> None:
    auth = signed_out()
    elsewhere = f"{DRIFT}=1234; Path=/orders"
    lines = set_cookie_lines(merged_headers(auth, [("set-cookie", elsewhere)]) or [])
    assert (DRIFT, None, "/") in targets(lines[1:])


def test_a_request_with_a_user_is_not_refused() -> None:
    assert refusal(kept(signed_in_header())) is None


def test_a_request_without_a_user_is_401() -> None:
    answer = refusal(kept(""))
    assert answer is not None
    assert (answer.status, answer.headers) == (401, {})


def test_an_outage_is_503_with_retry_after_not_a_sign_in() -> None:
    """The user may well be signed in; a 401 would send the browser to sign in for an outage."""
    owner = manager()
    decision = owner.rules.decide("", RequestTarget("/", HOST), jwks(), NOW)
    down = ProviderUnavailable("connection refused")
    answer = refusal(RequestAuth(owner, decision, owner.rules.keep(decision), down))
    assert answer is not None
    assert answer.status == 503
    assert answer.headers == {"Retry-After": str(down.retry_after)}
