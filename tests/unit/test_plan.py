"""The cookie plan's building blocks: which paths and domains a copy can live on, and the
one-Set-Cookie-per-identity builder."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssrauth._core.cookies import CookiePolicy, SetCookie
from ssrauth._core.plan import (
    MAX_PATH_DEPTH,
    PlanBuilder,
    RequestTarget,
    ancestor_paths,
    domain_variants,
)
from tests.browser_jar import path_matches
from tests.unit.factory import HOST


@pytest.mark.parametrize(
    ("request_path", "expected"),
    [
        ("/a/b/c", ["/", "/a", "/a/", "/a/b", "/a/b/", "/a/b/c"]),
        ("/a/b/", ["/", "/a", "/a/", "/a/b", "/a/b/"]),
        ("/", ["/"]),
        ("", ["/"]),
        ("relative/path", ["/"]),
        ("/orders", ["/", "/orders"]),
    ],
)
def test_ancestor_paths(request_path: str, expected: list[str]) -> None:
    assert ancestor_paths(request_path) == expected


def test_ancestor_paths_stop_at_the_depth_cap() -> None:
    # Two Set-Cookie lines per level, name and domain: the cap keeps the header bounded.
    assert ancestor_paths("/a/b/c/d/e/f/g") == [
        "/", "/a", "/a/", "/a/b", "/a/b/", "/a/b/c", "/a/b/c/", "/a/b/c/d", "/a/b/c/d/"]
    assert len(ancestor_paths("/x" * 50)) == 2 * MAX_PATH_DEPTH + 1


_SEGMENT = st.text(st.sampled_from("ab-_.%~"), min_size=1, max_size=3)
_PATHS = st.builds(
    lambda segments, slash: "/" + "/".join(segments) + ("/" if slash and segments else ""),
    st.lists(_SEGMENT, max_size=MAX_PATH_DEPTH),
    st.booleans(),
)


@settings(max_examples=200, deadline=None)
@given(_PATHS)
def test_ancestor_paths_are_exactly_the_cookie_paths_that_path_match(request_path: str) -> None:
    # Every prefix that path-matches (RFC 6265 §5.1.4, as the test browser implements it),
    # within the depth cap: nothing missing, nothing that could never be sent.
    candidates = {request_path[:i] for i in range(1, len(request_path) + 1)}
    matching = {p for p in candidates if path_matches(request_path, p)}
    assert set(ancestor_paths(request_path)) == matching
    assert ancestor_paths(request_path) == sorted(matching, key=len)  # shortest first


def test_ancestor_paths_after_an_empty_segment() -> None:
    assert "/a//" in ancestor_paths("/a//b")


@pytest.mark.parametrize(
    ("host", "policy", "expected"),
    [
        ("app.example.com", CookiePolicy(), [None, "app.example.com"]),
        ("App.Example.com:8443", CookiePolicy(), [None, "app.example.com"]),
        # Never one spelling per parent label: the Host is the client's to choose.
        ("a.b.example.co.uk", CookiePolicy(), [None, "a.b.example.co.uk"]),
        ("localhost:8000", CookiePolicy(), [None, "localhost"]),
        ("127.0.0.1:8000", CookiePolicy(), [None]),  # no Domain cookies on an IP host
        ("[::1]:8000", CookiePolicy(), [None]),
        ("::1", CookiePolicy(), [None]),
        ("app.example.com", CookiePolicy(domain="example.com"),
         [None, "app.example.com", "example.com"]),
        ("app.example.com", CookiePolicy(extra_domains=("other.org", "pp.example.com")),
         [None, "app.example.com"]),  # only domains that domain-match the host
        ("a.app.example.com",
         CookiePolicy(domain="example.com", extra_domains=("app.example.com",)),
         [None, "a.app.example.com", "example.com", "app.example.com"]),
        ("app.example.com", CookiePolicy(domain="other.org"), [None, "app.example.com"]),
        # A Host that is no DNS name never reaches a Domain attribute.
        ("app.example.com;Domain=evil.example", CookiePolicy(), [None]),
        ("app.example.com\r\nX-Evil: 1", CookiePolicy(), [None]),
        ("app..example.com", CookiePolicy(), [None]),
        ("a" * 64 + ".example.com", CookiePolicy(), [None]),
        ("app.example.com.", CookiePolicy(), [None]),
    ],
    ids=["host", "host-with-port", "no-parent-labels", "single-label", "ipv4",
         "ipv6-bracketed", "ipv6-bare", "configured-parent", "extra-domains",
         "configured-and-extra", "configured-mismatch", "semicolon", "crlf", "empty-label",
         "long-label", "trailing-dot"],
)
def test_domain_variants(host: str, policy: CookiePolicy, expected: list[str | None]) -> None:
    assert domain_variants(host, policy) == expected


# -- PlanBuilder ---------------------------------------------------------------------------------

TARGET = RequestTarget("/a/b", HOST)
PATHS = ("/", "/a", "/a/", "/a/b")


def builder(sent: dict[str, int], policy: CookiePolicy | None = None) -> PlanBuilder:
    return PlanBuilder(TARGET, policy or CookiePolicy(), sent)


def deletions(plan: tuple[SetCookie, ...]) -> set[tuple[str, str | None, str]]:
    return {c.target for c in plan if c.value is None}


def test_a_name_the_browser_did_not_send_is_never_deleted() -> None:
    # No copy of it path- or domain-matches this request: deletions could reach nothing.
    plan = builder({})
    plan.delete("n")
    plan.write("w", "v")
    assert plan.build() == (SetCookie("w", "v", "/", None),)


def test_a_name_deleted_outright_goes_under_every_spelling_on_every_path() -> None:
    # Sent once or twice alike: nothing written under the name will make a leftover copy show
    # as a duplicate later, so this response is the only chance to reach it.
    for sent in (1, 2):
        plan = builder({"n": sent})
        plan.delete("n")
        assert deletions(plan.build()) == {
            ("n", domain, path) for path in PATHS for domain in (None, HOST)}


def test_a_rewritten_token_sent_once_reaches_the_host_spelling_at_root_only() -> None:
    # A leftover elsewhere is sent beside the new token next time; the freshest one wins.
    plan = builder({"n": 1})
    plan.write("n", "v", verifiable=True)
    assert deletions(plan.build()) == (
        {("n", None, path) for path in PATHS} | {("n", HOST, "/")}) - {("n", None, "/")}


def test_a_rewritten_opaque_value_sent_once_goes_under_every_spelling_on_every_path() -> None:
    # A leftover refresh token could not be told from the new one on the next request.
    plan = builder({"n": 1})
    plan.write("n", "v")
    assert deletions(plan.build()) == (
        {("n", domain, path) for path in PATHS for domain in (None, HOST)} - {("n", None, "/")})


def test_a_single_copy_is_deleted_under_configured_domains_too() -> None:
    policy = CookiePolicy(domain="example.com", extra_domains=("app.example.com",))
    plan = builder({"n": 1}, policy)
    plan.delete("n")
    assert deletions(plan.build()) == {
        ("n", domain, path) for path in PATHS for domain in (None, "example.com",
                                                             "app.example.com")}


def test_duplicates_are_deleted_under_the_hosts_spelling_on_every_path() -> None:
    plan = builder({"n": 2})
    plan.delete("n")
    assert deletions(plan.build()) == {
        ("n", domain, path) for path in PATHS for domain in (None, HOST)}


def test_write_of_an_unsent_name_is_a_single_line() -> None:
    plan = builder({})
    plan.write("n", "v")
    assert plan.build() == (SetCookie("n", "v", "/", None),)


def test_write_of_a_sent_name_deletes_its_other_variants_and_wins_its_own() -> None:
    plan = builder({"n": 2})
    plan.write("n", "v")
    built = plan.build()
    assert len(built) == len({c.target for c in built}) == 8  # 4 paths x 2 domains, once each
    assert [c for c in built if c.value is not None] == [SetCookie("n", "v", "/", None)]
    assert ("n", None, "/") not in deletions(built)


def test_write_wins_over_a_deletion_in_either_order() -> None:
    first_delete = builder({"n": 2})
    first_delete.delete("n")
    first_delete.write("n", "v")
    first_write = builder({"n": 2})
    first_write.write("n", "v")
    first_write.delete("n")
    for plan in (first_delete.build(), first_write.build()):
        assert [c for c in plan if c.target == ("n", None, "/")] == [SetCookie("n", "v", "/", None)]
        assert len(plan) == len({c.target for c in plan})


def test_deletions_come_before_writes() -> None:
    plan = builder({"a": 1, "b": 1})
    plan.write("a", "1")
    plan.delete("b")
    plan.write("c", "3")
    kinds = [c.value is None for c in plan.build()]
    assert kinds == sorted(kinds, reverse=True)
    assert kinds.count(False) == 2


def test_writes_use_the_configured_path_and_domain_and_delete_there_too() -> None:
    policy = CookiePolicy(path="/app", domain="example.com")
    plan = PlanBuilder(RequestTarget("/", HOST), policy, {"n": 2})
    plan.write("n", "v")
    built = plan.build()
    assert [c for c in built if c.value is not None] == [SetCookie("n", "v", "/app", "example.com")]
    # The request path's ancestors ("/") and the canonical path ("/app") are both covered.
    assert {c.path for c in built} == {"/", "/app"}
    assert {c.domain for c in built} == {None, HOST, "example.com"}
