"""Every Set-Cookie line the plan makes is well-formed and the whole response is bounded, whatever
the request's path, Host and cookie names held (RFC 6265 §4.1.1 grammar; the amplification found
by the hostile-input review: a 4 KiB Host of many labels drew 18,000 lines)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ssrauth._core.cookies import CookiePolicy, SetCookie, render_set_cookie
from ssrauth._core.plan import (
    MAX_SET_COOKIE_BYTES,
    MAX_SET_COOKIE_LINES,
    PlanBuilder,
    RequestTarget,
    ancestor_paths,
    bounded,
)
from tests.set_cookie_grammar import WELL_FORMED

HOST = "app.example.com"



def rendered(plan: tuple[SetCookie, ...], policy: CookiePolicy) -> list[str]:
    return [render_set_cookie(cookie, policy) for cookie in bounded(plan)[0]]


def test_a_host_of_thousands_of_labels_gets_host_and_its_own_spelling_only() -> None:
    host = ".".join(["a"] * 2000) + ".example.com"
    plan = PlanBuilder(RequestTarget("/a/b/c/d", host), CookiePolicy(), {"n": 2})
    plan.delete("n")
    domains = {cookie.domain for cookie in plan.build()}
    assert domains == {None}  # longer than a DNS name may be: host-only only
    ordinary = PlanBuilder(RequestTarget("/a", "x.y.z.example.com"), CookiePolicy(), {"n": 2})
    ordinary.delete("n")
    assert {cookie.domain for cookie in ordinary.build()} == {None, "x.y.z.example.com"}


def test_a_semicolon_in_the_path_never_becomes_an_attribute() -> None:
    assert ancestor_paths("/a;Domain=evil.example/b") == ["/"]
    assert ancestor_paths("/ok/a;b/c") == ["/", "/ok", "/ok/"]


def test_control_characters_and_non_ascii_paths_get_no_deletion() -> None:
    assert ancestor_paths("/a\r\nSet-Cookie: x=1/b") == ["/"]
    assert ancestor_paths("/caf\u00e9/x") == ["/"]
    assert ancestor_paths("/" + "a" * 2000) == ["/"]  # longer than a browser keeps a Path


def test_names_no_line_can_carry_are_neither_deleted_nor_written() -> None:
    for name in ("a\r\nb", "a;b", "a=b", " a", "a ", "\x00", "\u0100", ""):
        plan = PlanBuilder(RequestTarget("/", HOST), CookiePolicy(), {name: 2})
        plan.delete(name)
        plan.write(name, "v")
        assert plan.build() == (), name


def test_a_value_outside_the_grammar_is_written_encoded() -> None:
    plan = PlanBuilder(RequestTarget("/", HOST), CookiePolicy(), {})
    plan.write("n", "a;b\r\n")
    assert plan.build() == (SetCookie("n", "a%3Bb%0D%0A", "/", None),)


def test_configuration_cannot_put_attributes_into_lines() -> None:
    for bad in ({"domain": "example.com; HttpOnly"}, {"domain": "exa mple.com"},
                {"extra_domains": ("a.com\r\nX: y",)}, {"path": "/a;Secure"}, {"path": "/a\nb"}):
        try:
            CookiePolicy(**bad)  # type: ignore[arg-type]
        except ValueError:
            continue
        raise AssertionError(f"accepted {bad}")


def test_the_cap_keeps_writes_and_the_shallowest_deletions() -> None:
    names = {f"user{i}.accessToken": 1 for i in range(400)}
    builder = PlanBuilder(RequestTarget("/a/b/c/d", HOST), CookiePolicy(domain="example.com"),
                          names)
    for name in names:
        builder.delete(name)
    builder.write("canonical", "v" * 3000)
    plan, left_out = bounded(builder.build())
    lines = [render_set_cookie(c, CookiePolicy(domain="example.com")) for c in plan]
    assert left_out > 0
    assert len(lines) <= MAX_SET_COOKIE_LINES
    assert sum(len(line) + len("Set-Cookie: \r\n") for line in lines) <= MAX_SET_COOKIE_BYTES
    assert [c.name for c in plan if c.value is not None] == ["canonical"]
    kept_paths = {c.path for c in plan if c.value is None}
    assert "/" in kept_paths
    assert kept_paths <= {"/", "/a"}  # shallowest first, deeper ones later
    assert plan[-1].value is not None  # deletions still come before the write


def test_an_ordinary_plan_is_untouched_by_the_cap() -> None:
    builder = PlanBuilder(RequestTarget("/a/b/c/d", HOST), CookiePolicy(domain="example.com"),
                          {f"n{i}": 2 for i in range(8)})
    for i in range(8):
        builder.delete(f"n{i}")
    plan = builder.build()
    assert bounded(plan) == (plan, 0)


_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
_HOSTS = st.one_of(_TEXT, st.builds(".".join, st.lists(st.sampled_from(["a", "b-c", "x_y", ""]),
                                                       max_size=300)))
_PATHS = st.builds(lambda parts: "/" + "/".join(parts),
                   st.lists(st.one_of(_TEXT, st.sampled_from(["a", "b;c", "%2F"])), max_size=8))


@settings(max_examples=300, deadline=None)
@given(path=_PATHS, host=_HOSTS,
       names=st.dictionaries(_TEXT, st.integers(min_value=0, max_value=3), max_size=60),
       writes=st.dictionaries(_TEXT, _TEXT, max_size=6),
       domain=st.sampled_from([None, "example.com"]))
def test_every_line_is_well_formed_and_the_response_bounded(
    path: str, host: str, names: dict[str, int], writes: dict[str, str], domain: str | None
) -> None:
    policy = CookiePolicy(domain=domain)
    builder = PlanBuilder(RequestTarget(path, host), policy, names)
    for name in names:
        builder.delete(name)
    for name, value in writes.items():
        builder.write(name, value)
    lines = rendered(builder.build(), policy)
    assert len(lines) <= MAX_SET_COOKIE_LINES
    for line in lines:
        assert WELL_FORMED.fullmatch(line), line
        line.encode("latin-1")  # a header line's bytes
