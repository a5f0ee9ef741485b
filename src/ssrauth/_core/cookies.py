"""Cookie wire formats: parse a Cookie header, render a Set-Cookie line, encode like js-cookie.

Pure functions, no I/O. The parser is hand-written because the standard library's
``http.cookies.SimpleCookie`` drops duplicate names and gives up on the first malformed pair,
and duplicates are exactly what ssrauth exists to see.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote, unquote

from .errors import ConfigError

__all__ = [
    "COOKIE_SIZE_LIMIT",
    "CookiePolicy",
    "RequestCookie",
    "SetCookie",
    "cookie_pieces",
    "decode_value",
    "default_path",
    "encode_name",
    "encode_value",
    "is_cookie_name",
    "is_cookie_path",
    "is_cookie_value",
    "is_domain_name",
    "pair_name",
    "pair_value",
    "parse_cookie_header",
    "parse_set_cookie_target",
    "render_set_cookie",
]

#: RFC 6265 §6.1 asks browsers to store at least 4096 bytes per cookie (name + value + attributes);
#: Chrome, Firefox and Safari all drop a cookie whose name and value pass 4096 bytes. We warn there.
COOKIE_SIZE_LIMIT = 4096

#: RFC 6265bis §5.6 (step 3 of the Path and Domain attributes): a browser ignores an attribute
#: value longer than 1024 bytes, so no cookie can live on a longer path.
MAX_ATTRIBUTE_VALUE = 1024

# What a browser keeps in a cookie name or value and echoes back, as latin-1 text of the bytes
# (RFC 6265bis §5.6: a line with a CTL other than HTAB is ignored whole; ";" ends the pair).
# Names exclude "=", values may hold it. Bytes over 0x7f are UTF-8 a browser accepted as sent.
_COOKIE_NAME = re.compile(r"[\x21-\x3a\x3c\x3e-\x7e\x80-\xff](?:[\x20-\x3a\x3c\x3e-\x7e\x80-\xff]*"
                          r"[\x21-\x3a\x3c\x3e-\x7e\x80-\xff])?")
_COOKIE_VALUE = re.compile(r"[\x20-\x3a\x3c-\x7e\x80-\xff]*")
# RFC 6265 §4.1.1 path-value: any CHAR except CTLs or ";" (US-ASCII only: browsers percent-
# escape everything else in a URL path, so no cookie path can hold it).
_COOKIE_PATH = re.compile(r"/[\x20-\x3a\x3c-\x7e]*")
# RFC 1034 §3.5 / RFC 1123 §2.1 host names (lower-cased), with "_" since real hosts use it.
_DOMAIN_NAME = re.compile(r"(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)*"
                          r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")


def is_cookie_name(name: str) -> bool:
    """A name a Set-Cookie line can carry as it is: no CTL, ``;``, ``=`` or edge whitespace,
    nothing beyond latin-1. Anything else would add attributes or split the header line."""
    return _COOKIE_NAME.fullmatch(name) is not None


def is_cookie_value(value: str) -> bool:
    """A value a Set-Cookie line can carry as it is (no CTL, no ``;``, latin-1 only)."""
    return _COOKIE_VALUE.fullmatch(value) is not None


def is_cookie_path(path: str) -> bool:
    """A Path attribute a browser would store: absolute, printable US-ASCII without ``;``, at
    most 1024 bytes (RFC 6265 §4.1.1, RFC 6265bis §5.6.4)."""
    return len(path) <= MAX_ATTRIBUTE_VALUE and _COOKIE_PATH.fullmatch(path) is not None


def is_domain_name(domain: str) -> bool:
    """A lower-case DNS host name fit for a Domain attribute (RFC 6265 §4.1.2.3: a subdomain
    per RFC 1034 §3.5; at most 253 characters)."""
    return len(domain) <= 253 and _DOMAIN_NAME.fullmatch(domain) is not None


#: Amplify's server default (adapter-core ``DEFAULT_AUTH_TOKEN_COOKIES_MAX_AGE``): one year.
DEFAULT_MAX_AGE = 31_536_000

SameSite = Literal["lax", "strict", "none"]


@dataclass(frozen=True, slots=True)
class RequestCookie:
    """One ``name=value`` pair as the browser sent it, in header order.

    ``name`` and ``value`` are exactly the bytes on the wire (latin-1 text): deleting a cookie
    needs its exact name, and Amplify writers disagree on encoding, so decoding happens later.
    """

    name: str
    value: str


def parse_cookie_header(header: str) -> list[RequestCookie]:
    """Split a Cookie header into pairs, keeping duplicates and order; never raises.

    RFC 6265 §5.4 joins pairs with ``"; "``; real clients also send bare ``;``, stray spaces,
    empty pairs and values without ``=`` (Chrome sends ``a`` for a cookie with an empty name).
    Anything we cannot read is skipped rather than rejected, so one broken cookie from another
    app never costs the user their session. This is ssrauth's only Cookie-header parser: the
    decision (through :func:`cookie_pieces`), the audit and the public export all read with it.

    >>> [(c.name, c.value) for c in parse_cookie_header('a=1;b="2"; ;c=x=y,d=4; =e')]
    [('a', '1'), ('b', '2'), ('c', 'x=y'), ('d', '4')]
    """
    pairs: list[RequestCookie] = []
    for piece in cookie_pieces(header):
        named = pair_name(piece)
        if named is not None:
            pairs.append(RequestCookie(named[0], pair_value(piece, named[1])))
    return pairs


#: A ``,`` followed by the start of another pair: a cookie name (no space, DQUOTE, separator or
#: control inside it) and its ``=``.
def cookie_pieces(header: str) -> list[str]:
    """The raw ``name=value`` pieces of a Cookie header, in order, whitespace and all.

    Only ``;`` ends a pair (RFC 6265 §5.4); a ``,`` always belongs to the value it is in. Raw
    JSON keeps its commas (adapter-nextjs writes signInDetails unencoded,
    ``{"loginId":"alice","authFlowType":"USER_SRP_AUTH"}``), and no value can smuggle in a
    cookie: read as a pair separator, ``search="q,<prefix>.LastAuthUser=mallory,..."`` (any
    value an app reflects from user input) would plant a whole auth family and sign the request
    in as someone else. The price is paid by a client that sends two Cookie header lines to a
    server that joins them with ``,`` (werkzeug, gunicorn, wsgiref; RFC 9110 §5.3): browsers
    send one line over HTTP/1.1, and over HTTP/2 the ASGI adapters read the lines themselves
    and join them with ``"; "`` (RFC 9113 §8.2.3). The pair at such a join is read with the
    comma in its value: never a cookie that was not sent.
    """
    return header.split(";")


def pair_name(piece: str) -> tuple[str, int] | None:
    """The name of one ``name=value`` piece and where its ``=`` is; None for a piece without
    ``=`` (RFC 6265bis: a value with an empty name, never ours) or with an empty name."""
    equals = piece.find("=")
    if equals < 0:
        return None
    name = piece[:equals].strip()
    return (name, equals) if name else None


def pair_value(piece: str, equals: int) -> str:
    """The value of one piece, as sent; RFC 6265 §4.1.1 allows DQUOTEs around a cookie-value."""
    value = piece[equals + 1 :].strip()
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        value = value[1:-1]
    return value


# js-cookie 3 (what Amplify's CookieStorage uses) encodes names with encodeURIComponent and then
# puts back "#$&+^`|"; it escapes "(" and ")" which encodeURIComponent leaves alone.
_NAME_SAFE = "!'*-._~#$&+^`|"
# Values: encodeURIComponent, then "#$&+/:<=>?@[]^`{|}" are put back (js-cookie converter.write).
_VALUE_SAFE = "!'()*-._~#$&+/:<=>?@[]^`{|}"


def encode_name(name: str) -> str:
    """Encode a cookie name the way Amplify JS (js-cookie) and adapter-nextjs write it."""
    return quote(name, safe=_NAME_SAFE)


def encode_value(value: str) -> str:
    """Encode a cookie value the way js-cookie writes it, so Amplify reads it back unchanged."""
    return quote(value, safe=_VALUE_SAFE)


def decode_value(raw: str) -> str:
    """Decode a value that may arrive raw (adapter route handlers) or URI-encoded (js-cookie).

    ``unquote`` and not ``unquote_plus``: js-cookie writes ``+`` literally.
    """
    return unquote(raw) if "%" in raw else raw


@dataclass(frozen=True, slots=True)
class CookiePolicy:
    """The attributes every auth cookie is written with: one canonical (path, domain).

    Defaults are Amplify's server defaults (adapter-core ``createKeyValueStorageFromCookieStorage
    Adapter``): ``Path=/``, no Domain (host-only), ``SameSite=Lax``, ``Secure``, one-year
    ``Max-Age``, not HttpOnly, so Amplify JS in the same browser keeps reading the tokens.

    ``extra_domains`` lists other Domain values an older deployment may have written; copies
    under them are deleted whenever ssrauth rewrites or clears the session.
    """

    path: str = "/"
    domain: str | None = None
    secure: bool = True
    http_only: bool = False
    same_site: SameSite = "lax"
    max_age: int = DEFAULT_MAX_AGE
    extra_domains: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.path.startswith("/"):
            raise ConfigError(f"cookie path must start with '/', got {self.path!r}")
        if not is_cookie_path(self.path):
            raise ConfigError(f"cookie path {self.path!r} is not a valid Path attribute "
                             "(printable US-ASCII without ';', at most 1024 bytes)")
        if self.same_site == "none" and not self.secure:
            raise ConfigError("SameSite=None requires Secure (browsers reject it otherwise)")
        if self.domain is not None:
            object.__setattr__(self, "domain", _configured_domain(self.domain))
        object.__setattr__(
            self, "extra_domains", tuple(_configured_domain(d) for d in self.extra_domains)
        )

    @classmethod
    def server_only(cls, *, secure: bool = True, domain: str | None = None) -> CookiePolicy:
        """HttpOnly + SameSite=Strict, like adapter-nextjs server-side auth.

        Use it when no browser code needs the tokens: script cannot read them, at the price of
        Amplify JS in the page no longer seeing the session.
        """
        return cls(secure=secure, domain=domain, http_only=True, same_site="strict")


def _normalise_domain(domain: str) -> str:
    # RFC 6265 §5.2.3: a leading dot is ignored and the value is compared lower-cased.
    return domain.strip().lstrip(".").lower()


def _configured_domain(domain: str) -> str:
    """A Domain from configuration, normalised; one that is no host name would put whatever
    it holds (``;``, a line break) into every Set-Cookie line, so it fails at start-up."""
    normalised = _normalise_domain(domain)
    if not is_domain_name(normalised):
        raise ConfigError(f"cookie domain {domain!r} is not a DNS host name")
    return normalised


@dataclass(frozen=True, slots=True)
class SetCookie:
    """One Set-Cookie the plan wants sent. ``value is None`` means delete."""

    name: str
    value: str | None
    path: str
    domain: str | None

    @property
    def target(self) -> tuple[str, str | None, str]:
        """The browser's identity of a cookie (RFC 6265 §5.3 step 11): name, domain, path."""
        return (self.name, self.domain, self.path)


def render_set_cookie(cookie: SetCookie, policy: CookiePolicy) -> str:
    """Render a Set-Cookie value with the policy's attributes.

    A deletion repeats the cookie's Path and Domain (RFC 6265 §5.3 step 11 only replaces a cookie
    with the same name, domain and path) with ``Max-Age=0``, which every current browser honours
    (Amplify's own route handlers delete the same way). It keeps ``Secure``, because a browser
    lets only a secure origin touch a Secure cookie, and drops what an expired cookie does not
    need (``Expires``, ``SameSite``, ``HttpOnly``): deletions can be many, headers must stay small.
    """
    parts = [f"{cookie.name}={'' if cookie.value is None else cookie.value}", f"Path={cookie.path}"]
    if cookie.domain is not None:
        parts.append(f"Domain={cookie.domain}")
    if cookie.value is None:
        parts.append("Max-Age=0")
        if policy.secure:
            parts.append("Secure")
        return "; ".join(parts)
    parts.append(f"Max-Age={policy.max_age}")
    if policy.secure:
        parts.append("Secure")
    if policy.http_only:
        parts.append("HttpOnly")
    parts.append(f"SameSite={policy.same_site.capitalize()}")
    return "; ".join(parts)


_ATTRIBUTE = re.compile(r"\s*([^=;]+?)\s*(?:=\s*([^;]*?)\s*)?(?:;|$)")


def parse_set_cookie_target(header: str, request_path: str) -> tuple[str, str | None, str]:
    """Return (name, domain, path) of a Set-Cookie line as a browser would store it.

    Used to see which cookies the application set itself (so ssrauth never adds a second
    Set-Cookie for the same cookie) and by the test jar. A missing Path gets the request's
    default-path (RFC 6265 §5.1.4); a missing Domain means host-only (None).
    """
    first, _, rest = header.partition(";")
    name = first.partition("=")[0].strip()
    path: str | None = None
    domain: str | None = None
    for match in _ATTRIBUTE.finditer(rest):
        key = match.group(1).strip().lower()
        value = (match.group(2) or "").strip()
        if key == "path":
            # §5.2.4: a Path that is empty or not absolute stands for the default-path, and
            # §5.3 step 7 takes the last Path attribute.
            path = value if value.startswith("/") else None
        elif key == "domain" and value:
            domain = _normalise_domain(value)
    return (name, domain, path if path is not None else default_path(request_path))


def default_path(request_path: str) -> str:
    """RFC 6265 §5.1.4 default-path: the directory of the request path (``/a/b`` → ``/a``)."""
    if not request_path.startswith("/") or request_path.count("/") == 1:
        return "/"
    return request_path[: request_path.rindex("/")]
