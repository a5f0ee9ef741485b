"""Cookie wire formats: the Cookie-header parser, js-cookie encoding, Set-Cookie rendering."""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ssrauth
from ssrauth._core.cookies import (
    CookiePolicy,
    RequestCookie,
    SetCookie,
    cookie_pieces,
    decode_value,
    default_path,
    encode_name,
    encode_value,
    parse_cookie_header,
    parse_set_cookie_target,
    render_set_cookie,
)
from ssrauth._core.jar import auth_pieces
from ssrauth._core.plan import RequestTarget
from tests.cookie_header_cases import COOKIE_HEADER_CASES
from tests.unit.factory import (
    HOST,
    KEYS,
    NOW,
    SIGN_IN_DETAILS,
    UNICODE,
    amplify_cookies,
    jwks,
    rules,
)

PROPERTY = settings(max_examples=200, deadline=None)


def pairs(header: str) -> list[tuple[str, str]]:
    return [(c.name, c.value) for c in parse_cookie_header(header)]


# -- parse_cookie_header -------------------------------------------------------------------------


def test_parser_keeps_duplicates_in_header_order() -> None:
    # A browser sends the longer-path copy first (RFC 6265 §5.4): both copies must survive.
    assert pairs("a=deep; b=x; a=root") == [("a", "deep"), ("b", "x"), ("a", "root")]


def test_parser_accepts_separators_without_spaces_and_stray_whitespace() -> None:
    assert pairs("a=1;b=2 ;  c = 3 ") == [("a", "1"), ("b", "2"), ("c", "3")]


def test_parser_skips_empty_pairs_and_pairs_without_equals() -> None:
    # "flag" is how Chrome sends a cookie with an empty name; "=v" has an empty name outright.
    assert pairs(";; a=1; ; flag; =v; b=2;") == [("a", "1"), ("b", "2")]


def test_parser_keeps_empty_values_and_equals_inside_values() -> None:
    assert pairs("a=; b=x=y==") == [("a", ""), ("b", "x=y==")]


def test_parser_unwraps_one_pair_of_dquotes_only() -> None:
    # RFC 6265 §4.1.1 cookie-value = *cookie-octet / ( DQUOTE *cookie-octet DQUOTE ).
    assert pairs('a="quoted"; b=""; c="; d="x') == [("a", "quoted"), ("b", ""), ("c", '"'),
                                                    ("d", '"x')]


def test_parser_returns_request_cookies() -> None:
    assert parse_cookie_header("n=v") == [RequestCookie("n", "v")]


@pytest.mark.parametrize(("header", "expected"), COOKIE_HEADER_CASES)
def test_parser_reads_the_cookie_header_cases(header: str, expected: list[tuple[str, str]]
                                              ) -> None:
    lau = KEYS.last_auth_user_name
    assert pairs(header.replace("{lau}", lau)) == [
        (n.replace("{lau}", lau), v.replace("{lau}", lau)) for n, v in expected]


def test_the_exported_parser_is_the_core_parser() -> None:
    assert ssrauth.parse_cookie_header is parse_cookie_header


def test_the_decision_reads_the_pieces_the_parser_reads() -> None:
    # The decision memo keys on raw pieces; they must be cut exactly as the parser cuts them.
    header = f"a=1,{KEYS.last_auth_user_name}=alice; b=2; {KEYS.last_auth_user_name}=bob"
    assert auth_pieces(header, KEYS.prefix) == (f"a=1,{KEYS.last_auth_user_name}=alice",
                                                f" {KEYS.last_auth_user_name}=bob")
    assert cookie_pieces(header) == [f"a=1,{KEYS.last_auth_user_name}=alice", " b=2",
                                     f" {KEYS.last_auth_user_name}=bob"]


def test_raw_json_sign_in_details_keep_their_commas_when_sent_twice() -> None:
    # adapter-nextjs writes signInDetails unencoded; a ``,`` that ``name=`` does not follow is
    # part of the value, so both copies read whole.
    name = KEYS.name("alice", "signInDetails")
    header = f"{name}={SIGN_IN_DETAILS}; {name}={SIGN_IN_DETAILS}"
    assert pairs(header) == [(name, SIGN_IN_DETAILS)] * 2



@pytest.mark.parametrize(
    "header",
    ["", ";", "=", "==;==", "\x00\x01\xff", "a" * 200_000, "; " * 10_000, "é=ü; \u2028=\ud800"],
    ids=["empty", "semicolon", "equals", "equals-runs", "binary", "huge-name", "many-empty",
         "unicode-and-lone-surrogate"],
)
def test_parser_survives_garbage(header: str) -> None:
    result = parse_cookie_header(header)
    assert all(c.name and c.name == c.name.strip() for c in result)


@PROPERTY
@given(st.text())
def test_parser_never_raises_and_never_yields_an_empty_name(header: str) -> None:
    assert all(c.name for c in parse_cookie_header(header))


# RFC 6265 §4.1.1: token characters for names, cookie-octets for values.
_TOKEN = st.text(
    alphabet=st.sampled_from(sorted(set(string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~"))),
    min_size=1,
    max_size=20,
)
_COOKIE_OCTETS = "".join(
    chr(c) for c in range(0x21, 0x7F) if chr(c) not in '",;\\'
)
_VALUE = st.text(alphabet=st.sampled_from(sorted(_COOKIE_OCTETS)), max_size=40).filter(
    lambda v: not (len(v) >= 2 and v[0] == v[-1] == '"')
)


@PROPERTY
@given(st.lists(st.tuples(_TOKEN, _VALUE), max_size=12), st.sampled_from(["; ", ";"]))
def test_rendered_pairs_round_trip_through_the_parser(
    cookies: list[tuple[str, str]], separator: str
) -> None:
    header = separator.join(f"{name}={value}" for name, value in cookies)
    assert pairs(header) == cookies


@PROPERTY
@given(st.lists(st.lists(st.tuples(_TOKEN, _VALUE), min_size=1, max_size=4),
                min_size=1, max_size=4))
def test_a_comma_never_makes_a_cookie_that_was_not_sent(
    lines: list[list[tuple[str, str]]]
) -> None:
    # werkzeug, gunicorn and wsgiref join two Cookie lines with ","; read as a separator, a
    # comma inside a value (search="q,<prefix>.LastAuthUser=mallory") would plant cookies. The
    # pair at a join keeps the comma in its value; every other pair is read as sent.
    header = ",".join("; ".join(f"{n}={v}" for n, v in line) for line in lines)
    read = pairs(header)
    assert len(read) == sum(len(line) for line in lines) - (len(lines) - 1)
    assert {name for name, _ in read} <= {name for line in lines for name, _ in line}


def test_a_value_carrying_a_whole_family_signs_nobody_in() -> None:
    """The review's login-CSRF case: an app that reflects user input into a cookie."""
    family = ",".join(f"{name}={value}" for name, value in amplify_cookies("mallory"))
    for header in (f'theme=dark; search="q,{family}"', f"theme=dark; search=q,{family}"):
        assert [name for name, _ in pairs(header)] == ["theme", "search"]
        decision = rules().decide(header, RequestTarget("/", HOST), jwks(), NOW)
        assert decision.session is None


# -- js-cookie encoding --------------------------------------------------------------------------
# An independent model of js-cookie 3 (src/api.mjs and src/converter.mjs), written from its
# source rather than from ssrauth's implementation: encodeURIComponent, then the regexes below.

_URI_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-_.!~*'()")


def encode_uri_component(text: str) -> str:
    return "".join(
        ch if ch in _URI_UNRESERVED else "".join(f"%{byte:02X}" for byte in ch.encode("utf-8"))
        for ch in text
    )


def _percent_decode(match: re.Match[str]) -> str:
    return chr(int(match.group(1), 16))


def js_cookie_name(name: str) -> str:
    encoded = re.sub(r"%(2[346B]|5E|60|7C)", _percent_decode, encode_uri_component(name))
    return re.sub(r"[()]", lambda m: f"%{ord(m.group()):02X}", encoded)  # JS escape()


def js_cookie_value(value: str) -> str:
    return re.sub(
        r"%(2[346BF]|3[AC-F]|40|5[BDE]|60|7[BCD])", _percent_decode, encode_uri_component(value)
    )


_NO_SURROGATES = st.text(UNICODE, max_size=40)


@pytest.mark.parametrize(
    ("name", "encoded"),
    [
        ("CognitoIdentityServiceProvider.c.a@b.com.idToken",
         "CognitoIdentityServiceProvider.c.a%40b.com.idToken"),
        ("u(x)", "u%28x%29"),
        ("#$&+^`|", "#$&+^`|"),
        ("a b;c=d,e\"f", "a%20b%3Bc%3Dd%2Ce%22f"),
        ("jürgen", "j%C3%BCrgen"),
        ("!'*-._~", "!'*-._~"),
    ],
)
def test_encode_name_matches_js_cookie(name: str, encoded: str) -> None:
    assert encode_name(name) == encoded


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        ('{"loginId":"a@b.com","authFlowType":"USER_SRP_AUTH"}',
         "{%22loginId%22:%22a@b.com%22%2C%22authFlowType%22:%22USER_SRP_AUTH%22}"),
        ("/:<=>?@[]^`{|}#$&+", "/:<=>?@[]^`{|}#$&+"),
        ("a,b", "a%2Cb"),
        ("a;b c", "a%3Bb%20c"),
        ("100%", "100%25"),
        ("back\\slash", "back%5Cslash"),
        ("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.s-_", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.s-_"),
    ],
    ids=["signInDetails-json", "kept-punctuation", "comma", "semicolon-space", "percent",
         "backslash", "jwt"],
)
def test_encode_value_matches_js_cookie(value: str, encoded: str) -> None:
    assert encode_value(value) == encoded


@PROPERTY
@given(_NO_SURROGATES)
def test_encode_name_agrees_with_the_js_cookie_model(name: str) -> None:
    assert encode_name(name) == js_cookie_name(name)


@PROPERTY
@given(_NO_SURROGATES)
def test_encode_value_agrees_with_the_js_cookie_model_and_decodes_back(value: str) -> None:
    encoded = encode_value(value)
    assert encoded == js_cookie_value(value)
    # Whatever is written must be a legal, header-safe cookie value that reads back unchanged.
    assert not set(encoded) & set(' ;,"\\\r\n')
    assert decode_value(encoded) == value


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        ("a+b", "a+b"),  # js-cookie writes "+" literally: unquote, never unquote_plus
        ("a%40b.com", "a@b.com"),
        ("{%22k%22:%22v%22%2C}", '{"k":"v",}'),
        ('{"k":"v"}', '{"k":"v"}'),  # adapter route handlers write values unencoded
        ("eyJ.abc.d-_", "eyJ.abc.d-_"),
        ("100%", "100%"),  # a lone "%" is not an escape
    ],
)
def test_decode_value_reads_raw_and_encoded_values(raw: str, decoded: str) -> None:
    assert decode_value(raw) == decoded


# -- render_set_cookie ---------------------------------------------------------------------------


def attributes(line: str) -> tuple[str, dict[str, str]]:
    pair, *rest = line.split("; ")
    attrs: dict[str, str] = {}
    for attribute in rest:
        key, _, value = attribute.partition("=")
        assert key.lower() not in {k.lower() for k in attrs}, f"{key} repeated in {line!r}"
        attrs[key] = value
    return pair, attrs


def test_write_uses_amplify_server_defaults() -> None:
    line = render_set_cookie(SetCookie("n", "v", "/", None), CookiePolicy())
    assert line == "n=v; Path=/; Max-Age=31536000; Secure; SameSite=Lax"


def test_write_carries_domain_and_server_only_attributes() -> None:
    policy = CookiePolicy.server_only(domain="example.com")
    line = render_set_cookie(SetCookie("n", "v", "/", policy.domain), policy)
    pair, attrs = attributes(line)
    assert pair == "n=v"
    assert attrs == {"Path": "/", "Domain": "example.com", "Max-Age": "31536000", "Secure": "",
                     "HttpOnly": "", "SameSite": "Strict"}


def test_deletion_repeats_path_and_domain_and_expires_at_once() -> None:
    line = render_set_cookie(SetCookie("n", None, "/a/b", "example.com"),
                             CookiePolicy.server_only())
    pair, attrs = attributes(line)
    assert pair == "n="
    # Path and Domain name the copy to replace (§5.3 step 11); Secure, because only a secure
    # origin may overwrite a Secure cookie; nothing else: deletion lines can be many.
    assert attrs == {"Path": "/a/b", "Domain": "example.com", "Max-Age": "0", "Secure": ""}


def test_insecure_deletion_omits_secure() -> None:
    line = render_set_cookie(SetCookie("n", None, "/", None), CookiePolicy(secure=False))
    assert line == "n=; Path=/; Max-Age=0"


def test_host_only_deletion_has_no_domain() -> None:
    _, attrs = attributes(render_set_cookie(SetCookie("n", None, "/", None), CookiePolicy()))
    assert "Domain" not in attrs


def test_insecure_policy_omits_secure() -> None:
    _, attrs = attributes(render_set_cookie(SetCookie("n", "v", "/", None),
                                            CookiePolicy(secure=False)))
    assert "Secure" not in attrs


def test_rendered_lines_parse_back_to_their_target() -> None:
    for cookie in (SetCookie("n", "v", "/x", None), SetCookie("n", None, "/", "example.com")):
        line = render_set_cookie(cookie, CookiePolicy())
        assert parse_set_cookie_target(line, "/elsewhere/deep") == cookie.target


# -- CookiePolicy --------------------------------------------------------------------------------


def test_policy_defaults_are_amplifys() -> None:
    policy = CookiePolicy()
    assert (policy.path, policy.domain, policy.secure, policy.http_only, policy.same_site,
            policy.max_age) == ("/", None, True, False, "lax", 31_536_000)


def test_server_only_policy_is_http_only_and_strict() -> None:
    policy = CookiePolicy.server_only(secure=False)
    assert (policy.http_only, policy.same_site, policy.secure) == (True, "strict", False)


def test_policy_normalises_domains() -> None:
    policy = CookiePolicy(domain=" .Example.COM ", extra_domains=(".Old.Example.com",))
    assert policy.domain == "example.com"
    assert policy.extra_domains == ("old.example.com",)


def test_policy_rejects_relative_path() -> None:
    with pytest.raises(ValueError, match="must start with '/'"):
        CookiePolicy(path="app")


def test_policy_rejects_samesite_none_without_secure() -> None:
    with pytest.raises(ValueError, match="SameSite=None requires Secure"):
        CookiePolicy(same_site="none", secure=False)


def test_policy_allows_samesite_none_with_secure() -> None:
    line = render_set_cookie(SetCookie("n", "v", "/", None), CookiePolicy(same_site="none"))
    assert line.endswith("; Secure; SameSite=None")


# -- parse_set_cookie_target and default_path ----------------------------------------------------


@pytest.mark.parametrize(
    ("line", "request_path", "target"),
    [
        ("a=1; Path=/x; Domain=.Example.COM", "/", ("a", "example.com", "/x")),
        ("a=1", "/orders/42", ("a", None, "/orders")),
        ("a=1; path=/p; DOMAIN=example.com; Secure; HttpOnly", "/", ("a", "example.com", "/p")),
        ("a=1;Path=/q;Max-Age=0", "/", ("a", None, "/q")),
        ("a=1; Path=relative", "/orders/42", ("a", None, "/orders")),  # §5.2.4: not "/…" → default
        ("a=1; Domain=", "/", ("a", None, "/")),  # §5.2.3: an empty Domain is ignored
        ("a=1; Path=/one; Path=/two", "/", ("a", None, "/two")),  # §5.3 step 7: the last Path
        (" spaced = v ; Path = /s ", "/", ("spaced", None, "/s")),
        ("a=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/e", "/", ("a", None, "/e")),
    ],
)
def test_parse_set_cookie_target(
    line: str, request_path: str, target: tuple[str, str | None, str]
) -> None:
    assert parse_set_cookie_target(line, request_path) == target


def test_last_path_attribute_wins_even_when_invalid() -> None:
    # §5.2.4 turns "Path=relative" into an attribute whose value is the default-path, and §5.3
    # step 7 takes the last Path attribute: the browser stores this cookie at "/orders".
    assert parse_set_cookie_target("a=1; Path=/x; Path=relative", "/orders/42") == (
        "a", None, "/orders")


@pytest.mark.parametrize(
    ("request_path", "expected"),
    [
        ("", "/"),
        ("no-slash", "/"),
        ("/", "/"),
        ("/orders", "/"),
        ("/orders/42", "/orders"),
        ("/a/b/", "/a/b"),
        ("/a/b/c", "/a/b"),
        ("//", "/"),
    ],
)
def test_default_path_follows_rfc6265_5_1_4(request_path: str, expected: str) -> None:
    assert default_path(request_path) == expected
