"""The audit's analysis and input readers, with plain values: tokens from the test minter,
Cookie headers and jars built by hand, no network."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssrauth._audit.analysis import (
    HEADER_LIMIT,
    AuditReport,
    Observation,
    ObservedCookie,
    PoolKeys,
    audit,
)
from ssrauth._audit.sources import SourceError, read_source
from ssrauth._core.cookies import CookiePolicy, parse_cookie_header
from ssrauth._core.keys import LAST_AUTH_USER, PREFIX, SESSION_FIELDS
from ssrauth._core.scheme import family_scheme
from ssrauth.cli import render_text
from tests.unit.factory import (
    CLIENT_ID,
    HOST,
    KEYS,
    KID,
    NOW,
    OTHER_CLIENT_ID,
    OTHER_KEYS,
    UNICODE,
    Minter,
    amplify_cookies,
    clone,
    cookie_header,
    jwks,
    minter,
    pool_key,
    signed_in_header,
    verifier,
)
from tests.unit.jar_scenarios import Scenario, documented_leftovers, scenarios

ACCESS = KEYS.name("alice", "accessToken")


def run(header: str, *, path: str = "/", host: str | None = HOST, pool: PoolKeys | None = None,
        policy: CookiePolicy | None = None, now: float = NOW) -> AuditReport:
    observation = read_source(header, label="test", host=host, path=path)
    return audit(observation, now=now, policy=policy, pools=() if pool is None else (pool,))


def codes(report: AuditReport, level: str = "problem") -> list[str]:
    return [f.code for f in report.findings if f.level == level]


def test_a_single_fresh_session_is_healthy_and_needs_no_heal() -> None:
    report = run(signed_in_header("alice", iat=NOW - 60))

    assert report.healthy
    [family] = report.families
    assert (family.client_id, family.user, family.state) == (CLIENT_ID, "alice", "authenticated")
    assert family.heal == ()
    assert family.duplicates == ()
    assert not family.verified
    assert "unverified" in codes(report, "note")


def test_duplicate_winners_browser_first_last_and_server_freshest() -> None:
    tokens = minter()
    older, fresher = tokens.access("alice", iat=NOW - 1800), tokens.access("alice", iat=NOW - 60)
    # The /orders copy (fresher) is sent first, as a browser sorts longer paths first.
    header = cookie_header([(ACCESS, fresher), *parse_pairs(signed_in_header(
        "alice", iat=NOW - 1800, access=older))])

    report = run(header, path="/orders/42")

    [family] = report.families
    [dup] = family.duplicates
    access_positions = [c.position for c in family.copies if c.field == "accessToken"]
    assert dup.field == "accessToken"
    assert dup.copies == tuple(access_positions)
    assert dup.browser == access_positions[0]  # js-cookie: first copy
    assert dup.last == access_positions[-1]  # Next.js edge runtime: last copy
    assert dup.server == access_positions[0]  # the freshest readable copy
    assert "unverified" in dup.server_rule
    assert not report.healthy
    assert {"duplicate", "needs-healing"} <= set(codes(report))
    writes = [line for line in family.heal if not line.split(";")[0].endswith("=")]
    assert writes == [f"{ACCESS}={fresher}; Path=/; Max-Age=31536000; Secure; SameSite=Lax"]


def test_heal_lines_follow_the_configured_policy() -> None:
    header = signed_in_header("alice") + "; " + f"{ACCESS}={minter().access('alice')}"
    policy = CookiePolicy(secure=False, domain="example.com")

    report = run(header, path="/a", policy=policy)

    heal = report.families[0].heal
    assert heal
    assert all("Secure" not in line for line in heal)
    assert any(line.startswith(f"{ACCESS}=ey") and "Domain=example.com" in line for line in heal)


def test_a_stale_user_is_reported_and_healed_device_keys_are_kept() -> None:
    tokens = minter()
    stale = amplify_cookies("bob", access=tokens.access("bob", iat=NOW - 9000), refresh="rb",
                            last_auth_user=None)
    devices = [(KEYS.name("carol", "deviceKey"), "dk-carol"), (KEYS.name("bob", "deviceKey"), "d")]
    header = "; ".join([signed_in_header("alice"), cookie_header(stale + devices)])

    report = run(header)

    family = report.families[0]
    assert family.stale_users == ("bob",)
    assert family.device_only_users == ("carol",)
    assert "stale-user" in codes(report)
    deleted = {line.split("=")[0] for line in family.heal}
    assert deleted == {KEYS.name("bob", "accessToken"), KEYS.name("bob", "refreshToken")}


def test_without_last_auth_user_the_fallback_is_named_a_placeholder_not_a_user() -> None:
    # Amplify's getLastAuthUser falls back to the literal "username" when the cookie is absent.
    orphan = amplify_cookies("bob", access=minter().access("bob", iat=NOW - 60), refresh="rb",
                             last_auth_user=None)

    report = run(cookie_header(orphan))

    assert len(report.families) == 1
    text = render_text(report)
    assert "no LastAuthUser: Amplify would use the placeholder 'username'" in text
    assert "server uses 'username'" not in text
    [stale] = [f.message for f in report.findings if f.code == "stale-user"]
    assert stale == ("a session family of 'bob', no LastAuthUser names a signed-in user (Amplify "
                     "would use the placeholder 'username'): the server deletes it")


def test_unreadable_and_truncated_tokens_are_findings_not_crashes() -> None:
    good = minter().access("alice")
    header = signed_in_header("alice", access=good[: len(good) // 2])

    report = run(header)

    statuses = {c.field: c.token.status for c in report.families[0].copies if c.token}
    assert statuses == {"accessToken": "unreadable", "idToken": "valid"}
    assert {"token-unreadable", "session-unusable"} <= set(codes(report))


def test_expired_but_refreshable_is_a_warning_and_healthy() -> None:
    report = run(signed_in_header("alice", iat=NOW - 7200))

    assert report.healthy
    assert "token-expired" in codes(report, "warning")
    assert report.families[0].state == "needs_refresh"
    assert report.families[0].copies[1].token is not None
    assert report.families[0].copies[1].token.status == "expired"


def test_expired_without_refresh_token_is_a_dead_session_the_server_clears() -> None:
    report = run(signed_in_header("alice", iat=NOW - 7200, refresh=None))

    assert not report.healthy
    assert "session-unusable" in codes(report)
    assert all("Max-Age=0" in line for line in report.families[0].heal)


def test_with_the_pool_a_forged_copy_is_invalid_and_the_genuine_one_wins() -> None:
    forged = Minter(pool_key(KID, seed=1)).access("alice", iat=NOW - 10)  # our kid, wrong key
    genuine = minter().access("alice", iat=NOW - 600)
    header = f"{ACCESS}={forged}; " + signed_in_header("alice", iat=NOW - 600, access=genuine)
    pool = PoolKeys(family_scheme(PREFIX, CLIENT_ID), verifier(), jwks())

    report = run(header, pool=pool)

    family = report.families[0]
    assert family.verified
    [dup] = family.duplicates
    assert dup.browser == 0
    assert dup.server == family.copies[2].position
    assert family.copies[0].token is not None
    assert family.copies[0].token.status == "invalid"
    assert "token-invalid" in codes(report)
    assert dup.server_rule == "the freshest verified copy"


def test_sizes_against_browser_and_proxy_limits() -> None:
    big = ("x" * 4100)
    header = signed_in_header("alice") + f"; big={big}; " + "; ".join(
        f"pad{i}={'y' * 1000}" for i in range(4))

    report = run(header)

    assert report.header_bytes == len(header) > HEADER_LIMIT
    assert {"cookie-too-large", "header-too-large"} <= set(codes(report))


def test_unrelated_cookies_are_counts_and_other_clients_get_their_own_family() -> None:
    tokens = Minter(pool_key(), client_id=OTHER_CLIENT_ID)
    theirs = amplify_cookies("zed", access=tokens.access("zed"), refresh="rz", keys=OTHER_KEYS)
    theirs.append((OTHER_KEYS.name("zed", "refreshToken"), "rz2"))
    header = "; ".join(["_ga=GA1.2.3", "CognitoIdentityServiceProvider=odd",
                        signed_in_header("alice"), cookie_header(theirs)])

    report = run(header)

    assert [f.client_id for f in report.families] == [CLIENT_ID, OTHER_CLIENT_ID]
    assert report.unrelated == 2
    assert report.families[0].heal == ()
    other_heal = report.families[1].heal
    assert other_heal
    assert all(OTHER_CLIENT_ID in line for line in other_heal)
    assert not any(line.startswith(("_ga", "CognitoIdentityServiceProvider=")) for line in
                   other_heal)


def test_an_export_is_judged_for_the_deepest_path_in_derived_order() -> None:
    tokens = minter()
    canonical = [ObservedCookie(n, v, "example.com", "/", False)
                 for n, v in parse_pairs(signed_in_header("alice", iat=NOW - 1800))]
    orders = ObservedCookie(ACCESS, tokens.access("alice", iat=NOW - 60), HOST, "/orders", True)
    twin = ObservedCookie(ACCESS, tokens.access("alice", iat=NOW - 90), HOST, "/", True)
    elsewhere = ObservedCookie(ACCESS, "x", "other.test", "/", True)
    observation = Observation((*canonical, twin, orders, elsewhere), header_order=False,
                              source="export")

    report = audit(observation, now=NOW)

    assert (report.host, report.path, report.order) == (HOST, "/orders", "derived")
    [dup] = report.families[0].duplicates
    assert len(dup.copies) == 3
    assert dup.browser is None or dup.browser == 0  # /orders sorts first, then a tie at "/"
    assert report.families[0].copies[0].path == "/orders"
    assert dup.server == 0  # the freshest
    assert "derived-order" in codes(report, "note")


def test_equal_paths_in_an_export_leave_the_browser_winner_unknown() -> None:
    tokens = minter()
    a = ObservedCookie(ACCESS, tokens.access("alice", iat=NOW - 60), HOST, "/", True)
    b = ObservedCookie(ACCESS, tokens.access("alice", iat=NOW - 90), "example.com", "/", False)

    user = ObservedCookie(KEYS.last_auth_user_name, "alice", HOST, "/", True)

    report = audit(Observation((a, b, user), header_order=False, source="export", host=HOST),
                   now=NOW)

    [dup] = report.families[0].duplicates
    assert dup.browser is None
    assert dup.server == 0
    assert dup.last == 1


# -- input readers ------------------------------------------------------------------------------


def har(*requests: tuple[str, str]) -> str:
    entries = [{"request": {"method": "GET", "url": url,
                            "headers": [{"name": "Cookie", "value": header}]}}
               for url, header in requests]
    return json.dumps({"log": {"version": "1.2", "entries": entries}})


def test_formats_are_detected_from_the_content() -> None:
    header = signed_in_header("alice")
    cookies = [{"name": n, "value": v, "domain": ".example.com", "path": "/"}
               for n, v in parse_pairs(header)]

    as_header = read_source("Cookie: " + header, label="t")
    as_har = read_source(har(("http://app.example.com/x", "a=1"),
                             (f"http://{HOST}:8443/orders/42", header)), label="t")
    as_list = read_source(json.dumps(cookies), label="t")
    as_state = read_source(json.dumps({"cookies": cookies, "origins": []}), label="t")

    assert as_header.header_order
    assert as_header.raw_header == header
    assert (as_har.host, as_har.path, as_har.raw_header) == (f"{HOST}:8443", "/orders/42", header)
    assert "entry 2 of 2" in as_har.source
    assert not as_list.header_order
    assert as_list.cookies == as_state.cookies
    assert as_list.cookies[0].host_only is False
    assert as_list.cookies[0].domain == "example.com"


@pytest.mark.parametrize(("text", "message"), [
    ("", "no cookies found"),
    ("{not json", "looks like JSON"),
    ('{"a": 1}', "neither a HAR"),
    ("[1, 2]", "no cookies found"),
    (har(), "no request with cookies"),
])
def test_unusable_inputs_raise_one_line_source_errors(text: str, message: str) -> None:
    with pytest.raises(SourceError, match=message) as error:
        read_source(text, label="in")
    assert "\n" not in str(error.value)


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(UNICODE, max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["log", "entries", "request", "url", "headers", "name",
                                       "value", "cookies", "domain", "path", "hostOnly"]),
                      children, max_size=5),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(UNICODE, max_size=200), JSONISH.map(json.dumps)))
def test_the_audit_never_raises_on_arbitrary_input(text: str) -> None:
    try:
        observation = read_source(text, label="fuzz", host="app.example.com")
    except SourceError:
        return
    report = audit(observation, now=NOW)
    assert json.loads(json.dumps(report.to_json()))["schema"] == "ssrauth.audit/1"


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_heal_lines_leave_at_most_one_copy_of_each_session_cookie(scenario: Scenario) -> None:
    host = scenario.target.host
    report = run(scenario.header(), path=scenario.path, host=host, policy=scenario.policy)

    after = clone(scenario.jar)
    for family in report.families:
        after.apply(list(family.heal), request_path=scenario.path)
    # A jar that needs more than one response's cap of lines (many names x 9 paths x 3
    # domains) is healed by the responses that follow, each sent the copies still left; so is
    # the plan's one documented leftover (a lone token under Domain=<host> off "/").
    written = [line.partition("=")[0] for f in report.families for line in f.heal
               if "Max-Age=0" not in line]
    leftovers = documented_leftovers(scenario, written)
    held = {c.identity for c in after.cookies}
    assert leftovers <= held
    rounds = 1
    while leftovers or any(f.code == "heal-capped" for f in report.findings):
        leftovers = set()
        assert rounds < 4, "healing does not converge"
        following = Scenario(after, scenario.target, scenario.policy, scenario.username)
        report = run(following.header(), path=scenario.path, host=host, policy=scenario.policy)
        for family in report.families:
            after.apply(list(family.heal), request_path=scenario.path)
        rounds += 1
    counts: Counter[tuple[str | None, str | None, str]] = Counter()
    for cookie in after.visible(scenario.path):
        for keys in (KEYS, OTHER_KEYS):
            name = keys.classify(cookie.name)
            if name is not None and (name.field in SESSION_FIELDS or name.field == LAST_AUTH_USER):
                counts[(keys.client_id, name.username, name.field)] += 1
    assert all(n == 1 for n in counts.values()), counts
    if not report.families or all(not f.heal for f in report.families):
        # Nothing left to heal: no duplicate and no stale family remains, except the
        # remembered-device keys of a user whose session the server is not using (another user,
        # or nobody signed in), which are never touched (Amplify keeps them across sign-outs).
        unhealed = [(f.client_id, d.username, d.field) for f in report.families
                    for d in f.duplicates
                    if not (d.field.startswith("device") and d.username != f.user)]
        assert unhealed == []
        assert all(not f.stale_users for f in report.families)


def parse_pairs(header: str) -> list[tuple[str, Any]]:
    return [(c.name, c.value) for c in parse_cookie_header(header)]


def test_copies_under_an_unconfigured_parent_domain_are_reported() -> None:
    """ssrauth never deletes under a parent domain it is not configured for (the Host is the
    client's), so the audit names the domain to add to ``extra_domains``."""
    cookies = [{"name": n, "value": v, "domain": ".example.com", "path": "/",
                "hostOnly": False} for n, v in parse_pairs(signed_in_header("alice"))]
    observation = read_source(json.dumps(cookies), label="t", host=HOST)
    stray = [f for f in audit(observation, now=NOW).findings if f.code == "stray-domain"]
    assert len(stray) == 1
    assert "Domain=example.com" in stray[0].message
    configured = audit(observation, now=NOW, policy=CookiePolicy(extra_domains=("example.com",)))
    assert not [f for f in configured.findings if f.code == "stray-domain"]
