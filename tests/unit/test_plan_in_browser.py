"""The cookie plan as a browser experiences it: random jars full of duplicate copies (paths,
Domain variants, name spellings, stale users), a decision, its Set-Cookie lines applied by a
browser-like jar, and then what the browser holds.

These are the properties ssrauth exists for: a clear leaves no auth cookie behind, a write leaves
exactly one copy of each cookie, and no response sets the same cookie twice.
"""

from __future__ import annotations

import functools
from collections import Counter

from hypothesis import example, given, settings
from hypothesis import strategies as st

from ssrauth._core.cookies import CookiePolicy, SetCookie
from ssrauth._core.keys import LAST_AUTH_USER, SESSION_FIELDS
from ssrauth._core.plan import RequestTarget
from ssrauth._core.session import Decision, State
from ssrauth._core.tokens import TokenSet
from tests.browser_jar import BrowserJar
from tests.unit.factory import (
    KEYS,
    NOW,
    SIGN_IN_DETAILS,
    amplify_cookies,
    auth_copies,
    clone,
    duplicate_targets,
    jwks,
    minter,
    render,
    session_cookies,
)
from tests.unit.jar_scenarios import (
    Scenario,
    documented_leftovers,
    field_values,
    scenarios,
    written_names,
)


def untouchable(jar: BrowserJar, rewritten_user: str | None) -> list[tuple[str, ...]]:
    """Every copy the plan must leave exactly as it was: other clients' and other apps' cookies,
    and remembered-device keys, except those of ``rewritten_user``, whose duplicates a rewrite
    may merge into one."""
    kept = []
    for cookie in jar.cookies:
        name = KEYS.classify(cookie.name)
        device = name is not None and name.field == "deviceKey"
        if name is None or (device and name.username != rewritten_user):
            kept.append((cookie.name, cookie.domain, str(cookie.host_only), cookie.path,
                         cookie.value))
    return sorted(kept)


def one_response(scenario: Scenario, plan: tuple[SetCookie, ...],
                 rewritten_user: str | None = None) -> BrowserJar:
    """Apply one response's Set-Cookie lines to a copy of the scenario's jar and check what
    every response must leave: no cookie set twice, others' cookies as they were, and at most
    one copy of each auth cookie the request could see, but for :func:`documented_leftovers`,
    each still there, unchanged, beside the copy just written."""
    lines = render(plan, scenario.policy)
    assert duplicate_targets(lines, scenario.path) == [], "a cookie was set twice in one response"
    after = clone(scenario.jar)
    after.apply(lines, request_path=scenario.path)
    assert untouchable(after, rewritten_user) == untouchable(scenario.jar, rewritten_user)
    leftovers = documented_leftovers(scenario, written_names(plan))
    held = {c.identity: c.value for c in after.cookies}
    before = {c.identity: c.value for c in scenario.jar.cookies}
    assert all(held.get(identity) == before[identity] for identity in leftovers)
    copies = Counter(auth_cookie(c.name, rewritten_user) for c in after.visible(scenario.path))
    twice = {auth_cookie(name, rewritten_user) for name, *_ in leftovers}
    for cookie, count in copies.items():
        if cookie is not None:
            assert count == (2 if cookie in twice else 1), f"{count} copies of {cookie}"
    return after


def auth_cookie(name: str, rewritten_user: str | None) -> tuple[str | None, str] | None:
    """(user, field) of a cookie a response must leave once: LastAuthUser, every session field,
    and the remembered-device keys of the user being rewritten (others' are never touched)."""
    parsed = KEYS.classify(name)
    if parsed is None:
        return None
    own_device_key = (parsed.field == "deviceKey" and rewritten_user is not None
                      and parsed.username == rewritten_user)
    if parsed.field in SESSION_FIELDS or parsed.field == LAST_AUTH_USER or own_device_key:
        return (parsed.username, parsed.field)
    return None


def respond(scenario: Scenario, plan: tuple[SetCookie, ...],
            rewritten_user: str | None = None) -> BrowserJar:
    """What the browser holds once it has applied ``plan``, and the next response too when the
    plan left a documented leftover (which that response must remove, and no more)."""
    after = one_response(scenario, plan, rewritten_user)
    if documented_leftovers(scenario, written_names(plan)):
        following = Scenario(after, scenario.target, scenario.policy, scenario.username,
                             scenario.hidden_names)
        healing = decide(following).plan
        assert documented_leftovers(following, written_names(healing)) == set()
        after = one_response(following, healing, rewritten_user)
    if rewritten_user is not None:
        # Merging duplicates keeps one of the values the browser had; it never drops the key.
        before = device_keys(scenario.jar, rewritten_user, scenario.path)
        now = device_keys(after, rewritten_user, scenario.path)
        assert set(now) <= set(before)
        assert len(now) == min(len(before), 1)
    return after


def device_keys(jar: BrowserJar, user: str, path: str) -> list[str]:
    return [v for u, f, v in auth_copies(jar, path) if u == user and f == "deviceKey"]


PROPERTY = settings(max_examples=200, deadline=None)


def decide(scenario: Scenario) -> Decision:
    return scenario.rules().decide(scenario.header(), scenario.target, jwks(), NOW)


@PROPERTY
@given(scenarios())
def test_clear_leaves_no_auth_cookie_visible(scenario: Scenario) -> None:
    outcome = scenario.rules().clear(decide(scenario), "signed out")
    after = respond(scenario, outcome.plan)

    assert session_cookies(after, scenario.path) == []


@PROPERTY
@given(scenarios())
def test_decision_plan_tidies_or_clears(scenario: Scenario) -> None:
    decision = decide(scenario)
    if decision.state is State.ANONYMOUS:
        # A dead session (no valid token, no refresh token) is cleared, all of it.
        after = respond(scenario, decision.plan)
        assert session_cookies(after, scenario.path) == []
        return
    after = respond(scenario, decision.plan, rewritten_user=decision.username)
    ours = session_cookies(after, scenario.path)
    assert len(ours) == len(set(ours)), f"duplicates survived the tidy: {ours}"
    assert [(u, f) for u, f in ours if u not in (None, decision.username)] == []


def id_token_duplicated_under_a_deeper_path() -> Scenario:
    """Alice is signed in (one fresh access token, a fresh id token at "/"); an expired id token
    from an older deployment still sits at "/app", so a request to "/app" sends it first."""
    values = field_values("alice")
    jar = BrowserJar("app.example.com")
    for name, value, path in [
        (KEYS.last_auth_user_name, "alice", "/"),
        (KEYS.name("alice", "accessToken"), values["accessToken"][0], "/"),
        (KEYS.name("alice", "refreshToken"), values["refreshToken"][0], "/"),
        (KEYS.name("alice", "idToken"), values["idToken"][0], "/"),
        (KEYS.name("alice", "idToken"), values["idToken"][2], "/app"),  # expired
    ]:
        jar.seed(name, value, path=path)
    return Scenario(jar, RequestTarget("/app", "app.example.com"), CookiePolicy(), "alice")


@PROPERTY
@example(id_token_duplicated_under_a_deeper_path())
@given(scenarios())
def test_tidy_keeps_the_session_it_decided_on(scenario: Scenario) -> None:
    decision = decide(scenario)
    if decision.state is State.ANONYMOUS:
        return
    after = respond(scenario, decision.plan, rewritten_user=decision.username)
    following = scenario.rules().decide(after.cookie_header(scenario.path), scenario.target,
                                        jwks(), NOW)
    assert following.state is decision.state
    assert session_tokens(following) == session_tokens(decision)
    assert following.plan == ()  # and the tidy is done in one response


def session_tokens(decision: Decision) -> tuple[str, str] | None:
    session = decision.session
    if session is None:
        return None
    return (session.access_token.raw, session.id_token.raw if session.id_token else "")


@PROPERTY
@given(scenarios(), st.booleans())
def test_write_leaves_exactly_one_copy_of_each_written_cookie(
    scenario: Scenario, via_refresh: bool
) -> None:
    rules_ = scenario.rules()
    decision = rules_.decide(scenario.header(), scenario.target, jwks(), NOW)
    if via_refresh and decision.username is not None:
        user = decision.username
        tokens = fresh_tokens(user)
        outcome = rules_.after_refresh(decision, tokens, jwks(), NOW)
    else:
        user = scenario.username
        tokens = fresh_tokens(user)
        outcome = rules_.establish(decision, user, tokens, SIGN_IN_DETAILS, jwks(), NOW)
    after = respond(scenario, outcome.plan, rewritten_user=user)

    written = {KEYS.last_auth_user_name: user,
               KEYS.name(user, "accessToken"): tokens.access_token,
               KEYS.name(user, "idToken"): tokens.id_token,
               KEYS.name(user, "refreshToken"): tokens.refresh_token}
    visible = after.visible(scenario.path)
    for name, value in written.items():
        assert [c.value for c in visible if c.name == name] == [value]
        if name not in scenario.hidden_names:
            assert len(after.copies(name)) == 1, f"{name} left copies the request could see"
    ours = session_cookies(after, scenario.path)
    assert len(ours) == len(set(ours)), f"a field is still duplicated: {ours}"
    assert [(u, f) for u, f in ours if u not in (None, user)] == []

    # The browser now holds one clean session: the next request is signed in and needs no plan.
    following = rules_.decide(after.cookie_header(scenario.path), scenario.target, jwks(), NOW)
    assert following.state is State.AUTHENTICATED
    assert following.session is not None
    assert following.session.access_token.raw == tokens.access_token
    assert following.plan == ()


@functools.cache
def fresh_tokens(username: str) -> TokenSet:
    """What the provider answers: newer than any token the jar can hold."""
    return minter().token_set(username, iat=NOW, refresh_token=f"rotated-{username}")


def amplify_wrote_with_domain_of_the_host() -> Scenario:
    """Amplify JS configured with ``CookieStorage({domain: "app.example.com"})`` while ssrauth
    runs with the default host-only policy: each cookie is one copy under Domain=<host>."""
    jar = BrowserJar("app.example.com")
    values = field_values("alice")
    for name, value in amplify_cookies("alice", access=values["accessToken"][1],
                                       id_token=values["idToken"][1], refresh="r-alice"):
        jar.seed(name, value, path="/", domain="app.example.com")
    return Scenario(jar, RequestTarget("/", "app.example.com"), CookiePolicy(), "alice")


def test_a_lone_copy_under_the_hosts_own_domain_is_replaced_in_one_response() -> None:
    """The hostile-input review's case: every copy under ``Domain=<host>`` at ``Path=/`` (no
    configured domain); the refresh response must leave one copy of each cookie, not two."""
    scenario = amplify_wrote_with_domain_of_the_host()
    tokens = fresh_tokens("alice")
    after = respond(scenario, scenario.rules().establish(decide(scenario), "alice", tokens, None,
                                                         jwks(), NOW).plan,
                    rewritten_user="alice")
    assert after.copies(KEYS.name("alice", "accessToken"))[0].value == tokens.access_token
    assert all(len(after.copies(name)) == 1 for name in after.names())
    assert decide(Scenario(after, scenario.target, scenario.policy, "alice")).plan == ()


def host_domain_copies_on(path: str, request_path: str) -> Scenario:
    """Alice's session written by a writer that sets ``Domain=<host>`` but no Path, on a page
    under ``path``: each cookie one copy at ``Domain=app.example.com; Path=<path>``."""
    jar = BrowserJar("app.example.com")
    values = field_values("alice")
    for name, value in amplify_cookies("alice", access=values["accessToken"][1],
                                       id_token=values["idToken"][1], refresh="r-alice"):
        jar.seed(name, value, path=path, domain="app.example.com")
    return Scenario(jar, RequestTarget(request_path, "app.example.com"), CookiePolicy(), "alice")


def test_a_lone_host_domain_token_on_a_nested_path_is_gone_after_the_next_response() -> None:
    """The documented exception, whole: the refresh leaves the old access and id tokens beside
    the new ones; the next response keeps the new ones and deletes the old."""
    scenario = host_domain_copies_on("/orders", "/orders/42")
    tokens = fresh_tokens("alice")
    plan = scenario.rules().establish(decide(scenario), "alice", tokens, None, jwks(), NOW).plan
    refreshed = one_response(scenario, plan, rewritten_user="alice")
    left = {name for name in refreshed.names() if len(refreshed.copies(name)) > 1}
    assert left == {KEYS.name("alice", "accessToken"), KEYS.name("alice", "idToken")}

    following = Scenario(refreshed, scenario.target, scenario.policy, "alice")
    healed = one_response(following, decide(following).plan, rewritten_user="alice")
    assert all(len(healed.copies(name)) == 1 for name in healed.names())
    assert [c.value for c in healed.copies(KEYS.name("alice", "accessToken"))] == [
        tokens.access_token]


def test_a_rotated_refresh_token_outlives_a_lone_old_copy_on_a_nested_path() -> None:
    """Found by the deletion-completeness property: a lone old refresh token at
    ``Domain=<host>; Path=/orders`` was left beside the rotated one, sent first on the next
    request and kept by its tidy (refresh tokens are opaque: position decides), so the rotated
    token was overwritten. An opaque value is now deleted under every spelling at once."""
    scenario = host_domain_copies_on("/orders", "/orders/42")
    tokens = fresh_tokens("alice")
    plan = scenario.rules().establish(decide(scenario), "alice", tokens, None, jwks(), NOW).plan
    refreshed = one_response(scenario, plan, rewritten_user="alice")
    assert [c.value for c in refreshed.copies(KEYS.name("alice", "refreshToken"))] == [
        tokens.refresh_token]
    following = Scenario(refreshed, scenario.target, scenario.policy, "alice")
    assert decide(following).refresh_tokens[0] == tokens.refresh_token


def test_sign_out_reaches_a_lone_copy_under_an_unconfigured_domain() -> None:
    scenario = amplify_wrote_with_domain_of_the_host()
    after = respond(scenario, scenario.rules().clear(decide(scenario), "signed out").plan)
    assert session_cookies(after, scenario.path) == []
