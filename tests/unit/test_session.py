"""Session decisions: from a Cookie header to authenticated / needs refresh / anonymous, and
the cookie plan each outcome sends. Plans are checked by what a browser holds afterwards."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ssrauth._core.cookies import CookiePolicy, SetCookie, encode_value
from ssrauth._core.keys import DEVICE_FIELDS
from ssrauth._core.plan import RequestTarget
from ssrauth._core.session import Decision, SessionRules, State
from ssrauth._core.tokens import TokenSet
from tests.browser_jar import BrowserJar
from tests.unit.factory import (
    HOST,
    KEYS,
    KID,
    NOW,
    OTHER_CLIENT_ID,
    OTHER_KEYS,
    SIGN_IN_DETAILS,
    Minter,
    amplify_cookies,
    cookie_header,
    jar_with,
    jwks,
    minter,
    pool_key,
    render,
    rules,
    session_cookies,
    signed_in_header,
    unsigned_token,
    visible_values,
)


def decide(header: str, *, path: str = "/", now: float = NOW,
           core: SessionRules | None = None) -> Decision:
    return (core or rules()).decide(header, RequestTarget(path, HOST), jwks(), now)


def apply(jar: BrowserJar, plan: tuple[SetCookie, ...], path: str = "/",
          policy: CookiePolicy | None = None) -> BrowserJar:
    jar.apply(render(plan, policy or CookiePolicy()), request_path=path)
    return jar


# -- the plain cases -----------------------------------------------------------------------------


def test_no_cookies_is_anonymous_with_nothing_to_send() -> None:
    decision = decide("")
    assert (decision.state, decision.session, decision.plan) == (State.ANONYMOUS, None, ())


def test_only_other_apps_cookies_is_anonymous_with_nothing_to_send() -> None:
    theirs = amplify_cookies("alice", access=minter().access(), refresh="r", keys=OTHER_KEYS)
    decision = decide(cookie_header([*theirs, ("_ga", "GA1.2.3")]))
    assert (decision.state, decision.plan, decision.family.is_empty) == (State.ANONYMOUS, (), True)


def test_valid_session_is_authenticated_and_sends_nothing() -> None:
    decision = decide(signed_in_header("alice", iat=NOW - 60))
    assert decision.state is State.AUTHENTICATED
    assert decision.plan == ()  # a steady session costs no Set-Cookie at all
    session = decision.session
    assert session is not None
    assert (session.username, session.sub) == ("alice", "sub-alice")
    assert session.claims["email"] == "alice@mail.test"  # profile claims come from the id token
    assert session.expires_at == NOW - 60 + 3600


def test_session_without_id_token_uses_access_claims() -> None:
    header = cookie_header(amplify_cookies("alice", access=minter().access(), refresh="r"))
    session = decide(header).session
    assert session is not None
    assert session.id_token is None
    assert session.claims["username"] == "alice"


def test_session_expires_with_its_earliest_token() -> None:
    header = signed_in_header("alice", access=minter().access(iat=NOW - 100),
                              id_token=minter().id(iat=NOW - 200))
    session = decide(header).session
    assert session is not None
    assert session.expires_at == NOW - 200 + 3600


# -- expiry, Amplify's margin and clockDrift -----------------------------------------------------


@pytest.mark.parametrize(
    ("expires_in", "clock_drift", "state"),
    [
        (6, "0", State.AUTHENTICATED),
        (5, "0", State.AUTHENTICATED),  # Amplify: expired when now + drift + 5 s > exp, strictly
        (4, "0", State.NEEDS_REFRESH),
        (12, "10000", State.NEEDS_REFRESH),  # the issuer runs 10 s ahead of us
        (4, "-10000", State.AUTHENTICATED),  # ... or 10 s behind
        (4, "junk", State.NEEDS_REFRESH),  # unreadable drift counts as none
        (12, "999999999999", State.AUTHENTICATED),  # beyond a day is garbage, not skew
    ],
)
def test_refresh_is_due_within_amplifys_margin_honouring_clock_drift(
    expires_in: int, clock_drift: str, state: State
) -> None:
    iat = NOW + expires_in - 3600
    decision = decide(signed_in_header("alice", iat=iat, clock_drift=clock_drift))
    assert decision.state is state
    # Inside the margin the tokens still work: the request is served if the provider is down.
    assert decision.session is not None
    if state is State.NEEDS_REFRESH:
        assert decision.refresh_tokens == ("refresh-alice",)


def test_id_token_expiring_first_asks_for_a_refresh() -> None:
    header = signed_in_header("alice", access=minter().access(iat=NOW),
                              id_token=minter().id(iat=NOW - 3598))
    assert decide(header).state is State.NEEDS_REFRESH


def test_expired_with_refresh_token_needs_refresh_without_a_session() -> None:
    decision = decide(signed_in_header("alice", iat=NOW - 7200))
    assert decision.state is State.NEEDS_REFRESH
    assert decision.session is None
    assert decision.refresh_tokens == ("refresh-alice",)


def test_expired_without_refresh_token_is_anonymous_and_cleared() -> None:
    pairs = amplify_cookies("alice", access=minter().access(iat=NOW - 7200),
                            id_token=minter().id(iat=NOW - 7200), clock_drift="0",
                            sign_in_details=SIGN_IN_DETAILS)
    device = (KEYS.name("alice", "deviceKey"), "dk")
    jar = jar_with([*pairs, device])
    decision = decide(jar.cookie_header("/"))
    assert (decision.state, decision.session) == (State.ANONYMOUS, None)
    apply(jar, decision.plan)
    assert session_cookies(jar) == []
    assert visible_values(jar, "/") == {device[0]: ["dk"]}  # Amplify keeps devices on sign-out


def test_valid_access_without_refresh_token_stays_authenticated_in_the_margin() -> None:
    header = cookie_header(amplify_cookies("alice", access=minter().access(iat=NOW - 3598),
                                           id_token=minter().id(iat=NOW - 3598)))
    decision = decide(header)
    assert decision.state is State.AUTHENTICATED
    assert decision.session is not None


# -- LastAuthUser --------------------------------------------------------------------------------


def test_missing_last_auth_user_falls_back_to_amplifys_username() -> None:
    # Amplify's getLastAuthUser answers the literal "username" when the cookie is absent.
    decision = decide(signed_in_header("username", last_auth_user=None))
    assert decision.state is State.AUTHENTICATED
    assert decision.username == "username"


def test_missing_last_auth_user_hides_other_users_like_amplify_does() -> None:
    decision = decide(signed_in_header("alice", last_auth_user=None))
    assert decision.session is None


def test_freshest_of_two_last_auth_users_wins_and_the_other_family_goes() -> None:
    jar = BrowserJar(HOST)
    for name, value in amplify_cookies("alice", access=minter().access("alice", iat=NOW - 900),
                                       refresh="r-alice"):
        jar.seed(name, value, path="/app")
    for name, value in amplify_cookies("bob", access=minter().access("bob", iat=NOW - 60),
                                       refresh="r-bob"):
        jar.seed(name, value, path="/")
    decision = decide(jar.cookie_header("/app"), path="/app")
    assert decision.username == "bob"
    apply(jar, decision.plan, "/app")
    assert visible_values(jar, "/app")[KEYS.last_auth_user_name] == ["bob"]
    assert {user for user, _ in session_cookies(jar, "/app")} == {None, "bob"}


# -- duplicates ----------------------------------------------------------------------------------


def two_generations(order: str) -> tuple[BrowserJar, str, str]:
    """Alice's session written twice: an old copy at /app (a nested-route write) and a newer one
    at /. ``order`` picks which generation the browser sends first."""
    old, new = minter().access(iat=NOW - 1800), minter().access(iat=NOW - 60)
    deep, root = ((old, "r-old"), (new, "r-new")) if order == "old-deep" else (
        (new, "r-new"), (old, "r-old"))
    jar = BrowserJar(HOST)
    for (access, refresh), path in ((deep, "/app"), (root, "/")):
        for name, value in amplify_cookies("alice", access=access, refresh=refresh):
            jar.seed(name, value, path=path)
    return jar, new, "r-new"


@pytest.mark.parametrize("order", ["old-deep", "new-deep"])
def test_freshest_access_copy_wins_whatever_the_header_order(order: str) -> None:
    jar, new_access, new_refresh = two_generations(order)
    decision = decide(jar.cookie_header("/app"), path="/app")
    assert decision.state is State.AUTHENTICATED
    assert decision.session is not None
    assert decision.session.access_token.raw == new_access
    # The refresh token written with the winning access token is the first candidate.
    assert decision.refresh_tokens == (new_refresh, "r-old")


@pytest.mark.parametrize("order", ["old-deep", "new-deep"])
def test_duplicates_are_rewritten_once_at_the_canonical_place(order: str) -> None:
    jar, new_access, new_refresh = two_generations(order)
    decision = decide(jar.cookie_header("/app"), path="/app")
    writes = [c for c in decision.plan if c.value is not None]
    assert {(c.path, c.domain) for c in writes} == {("/", None)}
    apply(jar, decision.plan, "/app")
    values = visible_values(jar, "/app")
    assert values[KEYS.name("alice", "accessToken")] == [new_access]
    assert values[KEYS.name("alice", "refreshToken")] == [new_refresh]
    assert len(jar.copies(KEYS.name("alice", "accessToken"))) == 1


def test_stale_user_family_is_deleted_but_its_device_keys_stay() -> None:
    bob_tokens = minter().token_set("bob", iat=NOW - 7200)
    bob = amplify_cookies("bob", access=bob_tokens.access_token, id_token=bob_tokens.id_token,
                          refresh="r-bob", clock_drift="0", sign_in_details=SIGN_IN_DETAILS,
                          last_auth_user=None)
    bob_devices = [(KEYS.name("bob", field), f"bob-{field}") for field in DEVICE_FIELDS]
    alice = amplify_cookies("alice", access=minter().access(), id_token=minter().id(),
                            refresh="r-alice")
    jar = jar_with([*bob, *bob_devices, *alice])
    decision = decide(jar.cookie_header("/"))
    assert decision.state is State.AUTHENTICATED
    assert all(c.value is None for c in decision.plan)  # alice's cookies need no rewrite
    apply(jar, decision.plan)
    left = visible_values(jar, "/")
    assert [name for name in left if "bob" in name] == [name for name, _ in bob_devices]
    assert {name for name, _ in alice} <= set(left)


def test_raw_and_encoded_spellings_of_an_email_user_collapse_to_the_encoded_one() -> None:
    username = "a@b.com"
    encoded = amplify_cookies(username, access=minter().access(username, iat=NOW - 60),
                              refresh="r-new")
    raw = [(name.replace("%40", "@"), value) for name, value in amplify_cookies(
        username, access=minter().access(username, iat=NOW - 1800), refresh="r-old",
        last_auth_user=None)]
    jar = jar_with([*encoded, *raw])
    decision = decide(jar.cookie_header("/"))
    assert decision.username == username
    apply(jar, decision.plan)
    assert all("@" not in name for name in visible_values(jar, "/"))
    assert visible_values(jar, "/")[KEYS.name(username, "refreshToken")] == ["r-new"]


def test_email_username_authenticates() -> None:
    decision = decide(signed_in_header("first.last@example.com"))
    assert decision.state is State.AUTHENTICATED
    assert decision.username == "first.last@example.com"
    assert decision.plan == ()


# -- forgeries and foreign tokens ----------------------------------------------------------------

FORGED_ACCESS: dict[str, Callable[[], str]] = {
    "attacker-key": lambda: Minter(pool_key(KID, seed=1)).access(),
    "other-client": lambda: Minter(pool_key(), client_id=OTHER_CLIENT_ID).access(),
    "id-token-as-access": lambda: minter().id(),
    "alg-none": lambda: unsigned_token(minter().claims("access", "alice")),
    "not-a-jwt": lambda: "garbage",
}


@pytest.mark.parametrize("forge", FORGED_ACCESS.values(), ids=FORGED_ACCESS.keys())
@pytest.mark.parametrize("refresh", [None, "r"], ids=["no-refresh", "refresh"])
def test_forged_access_tokens_never_authenticate(forge: Callable[[], str],
                                                  refresh: str | None) -> None:
    header = cookie_header(amplify_cookies("alice", access=forge(), id_token=minter().id(),
                                           refresh=refresh))
    decision = decide(header)
    assert decision.session is None
    # Never a provider call on a forged access token (refresh token or not): the cookies of a
    # session that cannot be verified are cleared instead.
    assert decision.state is State.ANONYMOUS
    assert decision.plan
    assert all(cookie.value is None for cookie in decision.plan)


def test_forged_id_token_is_never_trusted() -> None:
    elevated: dict[str, Any] = {"cognito:groups": ["admin"]}
    forged_id = Minter(pool_key(KID, seed=1)).id("alice", **elevated)
    decision = decide(signed_in_header("alice", id_token=forged_id))
    assert decision.session is not None
    assert decision.session.id_token is None
    assert "cognito:groups" not in decision.session.claims
    assert decision.state is State.NEEDS_REFRESH  # a refresh brings a genuine id token


def test_id_token_of_another_user_is_not_paired_with_the_access_token() -> None:
    decision = decide(signed_in_header("alice", id_token=minter().id("mallory")))
    assert decision.session is not None
    assert decision.session.id_token is None


def test_unknown_signing_key_never_logs_the_user_out() -> None:
    # We cannot judge the token (keys rotated, JWKS not refetched yet): clearing would punish
    # the user for our own missing key.
    rotated = Minter(pool_key("k2"))
    header = cookie_header(amplify_cookies("alice", access=rotated.access(),
                                           id_token=rotated.id()))
    decision = decide(header)
    assert (decision.state, decision.plan) == (State.ANONYMOUS, ())
    assert decision.unknown_kids == frozenset({"k2"})


def test_other_clients_cookies_never_appear_in_any_plan() -> None:
    ours = amplify_cookies("alice", access=minter().access(iat=NOW - 7200), refresh="r",
                           clock_drift="0")
    theirs = amplify_cookies("alice", access=minter().access(), refresh="r2", keys=OTHER_KEYS)
    jar = BrowserJar(HOST)
    for path in ("/", "/app"):  # duplicates of everything, theirs included
        for name, value in (*ours, *theirs):
            jar.seed(name, value, path=path)
    core = rules()
    decision = decide(jar.cookie_header("/app"), path="/app", core=core)
    plans = {
        "decision": decision.plan,
        "clear": core.clear(decision, "signed out").plan,
        "refresh": core.after_refresh(decision, minter().token_set(), jwks(), NOW).plan,
        "sign-in": core.establish(decision, "bob", minter().token_set("bob"), None, jwks(),
                                      NOW).plan,
    }
    for kind, plan in plans.items():
        assert plan, kind
        assert all(KEYS.classify(c.name) is not None for c in plan), kind
        assert all(OTHER_KEYS.classify(c.name) is None for c in plan), kind


# -- writing new tokens --------------------------------------------------------------------------


def test_refresh_writes_the_rotated_tokens_and_clock_drift() -> None:
    jar = jar_with(amplify_cookies("alice", access=minter().access(iat=NOW - 7200),
                                   id_token=minter().id(iat=NOW - 7200), refresh="r-old",
                                   sign_in_details=SIGN_IN_DETAILS))
    core = rules()
    now = NOW + 0.25
    decision = decide(jar.cookie_header("/"), now=now, core=core)
    assert decision.sign_in_details == SIGN_IN_DETAILS  # read back from js-cookie encoding
    tokens = minter().token_set(iat=NOW - 2, refresh_token="r-rotated")
    outcome = core.after_refresh(decision, tokens, jwks(), now)
    assert outcome.session is not None
    assert outcome.session.access_token.raw == tokens.access_token
    assert outcome.tokens == tokens
    apply(jar, outcome.plan)
    values = visible_values(jar, "/")
    assert values == {
        KEYS.last_auth_user_name: ["alice"],
        KEYS.name("alice", "accessToken"): [tokens.access_token],
        KEYS.name("alice", "idToken"): [tokens.id_token],
        KEYS.name("alice", "refreshToken"): ["r-rotated"],
        # Amplify's clockDrift: issuer time minus ours, in ms (the issuer is 2.25 s behind).
        KEYS.name("alice", "clockDrift"): ["-2250"],
        KEYS.name("alice", "signInDetails"): [encode_value(SIGN_IN_DETAILS)],
    }
    following = decide(jar.cookie_header("/"), now=now, core=core)
    assert (following.state, following.plan) == (State.AUTHENTICATED, ())


def test_refresh_without_an_id_token_deletes_the_old_one() -> None:
    jar = jar_with(amplify_cookies("alice", access=minter().access(iat=NOW - 7200),
                                   id_token=minter().id(iat=NOW - 7200), refresh="r"))
    core = rules()
    decision = decide(jar.cookie_header("/"), core=core)
    tokens = TokenSet(minter().access(), None, "r2")
    apply(jar, core.after_refresh(decision, tokens, jwks(), NOW).plan)
    assert KEYS.name("alice", "idToken") not in visible_values(jar, "/")


def test_refresh_without_an_id_token_deletes_duplicated_old_ones_too() -> None:
    jar = jar_with(amplify_cookies("alice", access=minter().access(iat=NOW - 7200),
                                   id_token=minter().id(iat=NOW - 7200), refresh="r"))
    jar.seed(KEYS.name("alice", "idToken"), minter().id(iat=NOW - 3000), path="/app")
    core = rules()
    decision = decide(jar.cookie_header("/app"), path="/app", core=core)
    tokens = TokenSet(minter().access(), None, "r2")
    apply(jar, core.after_refresh(decision, tokens, jwks(), NOW).plan, "/app")
    # An id token from before the refresh must not be paired with the new access token.
    assert KEYS.name("alice", "idToken") not in visible_values(jar, "/app")


def test_sign_in_replaces_another_users_session_and_keeps_device_keys() -> None:
    alice = amplify_cookies("alice", access=minter().access(), id_token=minter().id(),
                            refresh="r-alice", clock_drift="0")
    device = (KEYS.name("alice", "deviceKey"), "dk-alice")
    jar = jar_with([*alice, device])
    core = rules()
    decision = decide(jar.cookie_header("/"), core=core)
    tokens = minter().token_set("bob")
    outcome = core.establish(decision, "bob", tokens, SIGN_IN_DETAILS, jwks(), NOW)
    assert outcome.session is not None
    assert outcome.session.username == "bob"
    apply(jar, outcome.plan)
    values = visible_values(jar, "/")
    assert values[KEYS.last_auth_user_name] == ["bob"]
    assert values[device[0]] == ["dk-alice"]
    assert {user for user, _ in session_cookies(jar)} == {None, "bob"}
    assert values[KEYS.name("bob", "signInDetails")] == [encode_value(SIGN_IN_DETAILS)]


def test_clear_deletes_every_variant_the_request_could_see() -> None:
    policy = CookiePolicy(domain="example.com")
    jar = BrowserJar(HOST)
    pairs = amplify_cookies("alice", access=minter().access(), refresh="r")
    for path, domain in (("/", None), ("/app", HOST), ("/app/", "example.com")):
        for name, value in pairs:
            jar.seed(name, value, path=path, domain=domain)
    core = rules(policy)
    decision = decide(jar.cookie_header("/app/x"), path="/app/x", core=core)
    outcome = core.clear(decision, "signed out")
    assert outcome.session is None
    apply(jar, outcome.plan, "/app/x", policy)
    assert jar.cookies == []


def test_keep_passes_the_decision_through() -> None:
    decision = decide(signed_in_header("alice", iat=NOW - 3598))
    outcome = rules().keep(decision)
    assert (outcome.session, outcome.plan, outcome.reason) == (
        decision.session, decision.plan, decision.reason)


# -- remembered decisions ------------------------------------------------------------------------


def test_settled_decision_is_reused_for_the_same_header_and_keys() -> None:
    core, keys = rules(), jwks()
    header = signed_in_header("alice", iat=NOW - 60)
    target = RequestTarget("/", HOST)
    first = core.decide(header, target, keys, NOW)
    assert core.decide(header, target, keys, NOW + 1) is first
    assert core.decide(header, target, jwks(), NOW + 1) is not first  # new key set: judge again


def test_settled_hands_back_the_quiet_decision_of_the_same_request_only() -> None:
    core, keys = rules(), jwks()
    header = signed_in_header("alice", iat=NOW - 60)
    assert core.settled(header, "/", HOST, keys, NOW) is None  # nothing decided yet
    decision = core.decide(header, RequestTarget("/", HOST), keys, NOW)
    settled = core.settled(header, "/", HOST, keys, NOW + 1)
    assert settled is not None
    assert settled.decision is decision
    assert settled.outcome == core.keep(decision)
    assert core.settled(header, "/other", HOST, keys, NOW + 1) is None  # another path
    assert core.settled(header, "/", "other.example", keys, NOW + 1) is None  # another host
    assert core.settled(header, "/", HOST, jwks(), NOW + 1) is None  # another key set
    assert core.settled(header, "/", HOST, keys, NOW + 3600) is None  # inside the margin


def test_settled_never_hands_back_a_decision_with_work_to_do() -> None:
    core, keys = rules(), jwks()
    jar, _, _ = two_generations("old-deep")
    header = jar.cookie_header("/app")
    decision = core.decide(header, RequestTarget("/app", HOST), keys, NOW)
    assert decision.state is State.AUTHENTICATED
    assert decision.duplicates
    assert not decision.is_quiet
    assert core.settled(header, "/app", HOST, keys, NOW) is None  # the tidy plan must be sent


def test_a_page_view_reuses_the_decision_on_a_new_path_with_its_own_target() -> None:
    core, keys = rules(), jwks()
    header = signed_in_header("alice", iat=NOW - 60)
    first = core.decide(header, RequestTarget("/", HOST), keys, NOW)
    changed = header + "; _ga_X=GS1.1.2"  # another site's cookie changed: ours did not
    later = core.decide(changed, RequestTarget("/pages/2", HOST), keys, NOW + 1)
    assert later.session is first.session
    assert later.target == RequestTarget("/pages/2", HOST)
    settled = core.settled(changed, "/pages/2", HOST, keys, NOW + 1)
    assert settled is not None
    assert settled.decision is later


@pytest.mark.parametrize(("clock_drift", "margin_entered_at"), [("0", 3595), ("10000", 3585)])
def test_remembered_decision_expires_when_the_refresh_margin_begins(
    clock_drift: str, margin_entered_at: int
) -> None:
    core, keys = rules(), jwks()
    header = signed_in_header("alice", iat=NOW, clock_drift=clock_drift)
    target = RequestTarget("/", HOST)
    assert core.decide(header, target, keys, NOW).state is State.AUTHENTICATED
    just_before = core.decide(header, target, keys, NOW + margin_entered_at - 0.5)
    assert just_before.state is State.AUTHENTICATED
    later = core.decide(header, target, keys, NOW + margin_entered_at + 0.5)
    assert later.state is State.NEEDS_REFRESH
