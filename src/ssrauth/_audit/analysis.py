"""``ssrauth audit``, the analysis: what a browser's auth cookies look like to ssrauth. Pure.

The input is what was observed (cookies with, when the source knows them, their path, domain
and host-only flag, in Cookie-header order or as a jar export), the request it is judged for,
a time and optionally the key sets of configured pools or OpenID Connect providers; the output
is a frozen :class:`AuditReport`. Families are found under every cookie prefix asked for
(Amplify's ``CognitoIdentityServiceProvider`` and ssrauth's OIDC ``ssrauth`` by default), each
read with the keys and token rules of :mod:`ssrauth._core.scheme`, the ones a server uses. The
verdict on each family comes from :meth:`SessionRules.decide` itself and the heal lines are its
plan rendered with the deployment's :class:`CookiePolicy`, so the audit prints exactly what the
server would send, and can never drift from it.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote

from .._core.cookies import COOKIE_SIZE_LIMIT, CookiePolicy, decode_value, render_set_cookie
from .._core.keys import (
    DEVICE_FIELDS,
    FALLBACK_USERNAME,
    LAST_AUTH_USER,
    OIDC_PREFIX,
    PREFIX,
    AmplifyKeys,
    AuthCookieName,
)
from .._core.plan import RequestTarget, ancestor_paths, bounded, domain_variants, hostname
from .._core.rules import TokenRules, field_of
from .._core.scheme import CookieScheme, family_scheme
from .._core.session import Decision, SessionRules, State
from .._core.tokens import InvalidToken, JwkSet, TokenUse
from .._core.verify import OfflineReader, TokenVerifier

__all__ = [
    "AUTH_PREFIXES",
    "HEADER_LIMIT",
    "STRICT_HEADER_LIMIT",
    "AuditReport",
    "CopyReport",
    "DuplicateReport",
    "FamilyReport",
    "Finding",
    "Observation",
    "ObservedCookie",
    "PoolKeys",
    "audit",
    "family_of",
]

#: nginx refuses a request whose header line passes ``large_client_header_buffers`` (8k by
#: default) with "400 Request Header Or Cookie Too Large"; Apache's limit is 8190.
HEADER_LIMIT = 8192
#: Stricter proxies and load balancers cap one header line at 4 KiB.
STRICT_HEADER_LIMIT = 4096
#: JSON output version: bump it when a field changes meaning or disappears.
SCHEMA = "ssrauth.audit/1"
#: The cookie prefixes searched by default: Amplify's (Cognito) and ssrauth's OpenID Connect.
AUTH_PREFIXES: tuple[str, ...] = (PREFIX, OIDC_PREFIX)

_TOKEN_USES: dict[str, TokenUse] = {"accessToken": "access", "idToken": "id"}
_LAST_AUTH = AuthCookieName(None, LAST_AUTH_USER)
Level = Literal["problem", "warning", "note"]
_Say = Callable[[Level, str, str], None]


@dataclass(frozen=True, slots=True)
class ObservedCookie:
    """One cookie as a source saw it; ``None`` where the source does not tell (a Cookie header
    carries names and values only)."""

    name: str
    value: str
    domain: str | None = None
    path: str | None = None
    host_only: bool | None = None


@dataclass(frozen=True, slots=True)
class Observation:
    """What an input reader found. ``header_order`` says whether ``cookies`` are in the order a
    browser sent them (a Cookie header, a HAR) or are a jar export, whose sending order must be
    derived from paths (RFC 6265 §5.4) without the creation times that break ties."""

    cookies: tuple[ObservedCookie, ...]
    header_order: bool
    source: str
    host: str | None = None
    path: str | None = None
    #: The Cookie header exactly as sent, when the source has it: sizes are measured on it.
    raw_header: str | None = None


@dataclass(frozen=True, slots=True)
class PoolKeys:
    """A configured pool's or provider's verifier and key set, with the cookie scheme its
    config gives (``scheme_of``): the family under those keys is verified by them."""

    scheme: CookieScheme
    verifier: TokenVerifier
    jwks: JwkSet


@dataclass(frozen=True, slots=True)
class TokenReport:
    use: TokenUse
    #: ``valid``, ``expired``, ``unreadable`` (not a readable JWT for this client by the
    #: family's rules), ``invalid`` (readable, but verification against the pool or provider
    #: failed) or ``opaque`` (an OIDC access token that is no JWT to us: carried, never trusted;
    #: its expiry is the ``expiresAt`` cookie).
    status: str
    verified: bool
    exp: int | None = None
    iat: int | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class CopyReport:
    """One copy of one auth cookie on the audited request."""

    position: int  # in the request's Cookie header, 0-based
    name: str  # the wire name (what a deletion must repeat)
    username: str | None  # None for LastAuthUser
    field: str
    size: int  # len(name) + 1 + len(value): what the browser's 4096-byte limit counts
    #: SHA-256 of the value, 12 hex digits: tells copies apart without printing tokens.
    fingerprint: str
    path: str | None = None
    domain: str | None = None
    host_only: bool | None = None
    token: TokenReport | None = None


@dataclass(frozen=True, slots=True)
class DuplicateReport:
    """A (username, field) sent more than once, and which copy each kind of reader takes."""

    username: str | None
    field: str
    copies: tuple[int, ...]  # positions
    #: js-cookie (Amplify in the page) reads the first copy; None when a jar export cannot say
    #: which is first (same path length, creation order not exported).
    browser: int | None
    #: Next.js's edge-runtime parser and Python's SimpleCookie keep the last copy.
    last: int
    #: The copy ssrauth keeps (its heal plan rewrites that value); None when it keeps none.
    server: int | None
    server_rule: str


@dataclass(frozen=True, slots=True)
class FamilyReport:
    """The auth cookies of one app client id under one cookie prefix."""

    client_id: str
    #: The names' first segment: ``CognitoIdentityServiceProvider`` or an OIDC cookie prefix.
    prefix: str
    #: ``cognito`` (the access token authenticates) or ``oidc`` (the id token does).
    provider: str
    verified: bool
    last_auth_user: tuple[str, ...]
    user: str | None  # whose session the server would use
    state: str  # authenticated | needs_refresh | anonymous
    reason: str
    copies: tuple[CopyReport, ...]
    duplicates: tuple[DuplicateReport, ...]
    stale_users: tuple[str, ...]
    device_only_users: tuple[str, ...]
    heal: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Finding:
    level: Level
    code: str
    message: str
    client_id: str | None = None


@dataclass(frozen=True, slots=True)
class AuditReport:
    source: str
    host: str | None
    path: str
    #: ``header`` when the order is the browser's own, ``derived`` for a jar export.
    order: str
    cookies: int
    unrelated: int
    header_bytes: int
    heal_bytes: int
    families: tuple[FamilyReport, ...]
    findings: tuple[Finding, ...]

    @property
    def healthy(self) -> bool:
        """No problem finding: warnings and notes never make a jar unhealthy."""
        return not any(f.level == "problem" for f in self.findings)

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` document (``schema`` names its version)."""
        body = dataclasses.asdict(self)
        return {"schema": SCHEMA, "healthy": self.healthy, **body}


def audit(
    observation: Observation,
    *,
    now: float,
    policy: CookiePolicy | None = None,
    pools: Sequence[PoolKeys] = (),
    pool_errors: Sequence[str] = (),
    prefixes: Sequence[str] = AUTH_PREFIXES,
) -> AuditReport:
    """Judge the auth cookies of one request; never raises on odd cookies or tokens.

    Each family under one of ``prefixes`` is judged on its own; one that a pool or provider in
    ``pools`` names is verified with its keys, the others are read offline."""
    policy = policy or CookiePolicy()
    sent, unsent, host, path = _request_view(observation, prefixes)
    header = observation.raw_header
    if header is None:
        header = "; ".join(f"{c.name}={c.value}" for c in sent)
    findings: list[Finding] = []
    found = list(dict.fromkeys(f for c in sent if (f := family_of(c.name, prefixes))))
    target = RequestTarget(path, host or "")
    by_keys = {pool.scheme.keys.prefix: pool for pool in pools}
    families = tuple(
        _family(prefix, cid, by_keys.get(f"{prefix}.{cid}."), sent, header, target, policy,
                now, observation.header_order, findings)
        for prefix, cid in found
    )
    ours = sum(len(f.copies) for f in families)
    heal_bytes = sum(len("Set-Cookie: \r\n") + len(line) for f in families for line in f.heal)
    header_bytes = len(header.encode("utf-8", "surrogateescape"))
    _size_findings(sent, header_bytes, heal_bytes, findings)
    if not found:
        findings.append(Finding("note", "no-auth-cookies", "no auth cookie is sent (prefixes "
                                f"{', '.join(prefixes)})"))
    seen = {f"{prefix}.{cid}." for prefix, cid in found}
    for pool in pools:
        if pool.scheme.keys.prefix not in seen:
            findings.append(Finding("note", "pool-client-absent", "no cookie of the configured "
                                    f"client id {pool.scheme.keys.client_id}"))
    for error in pool_errors:
        findings.append(Finding("warning", "jwks-unavailable",
                                f"{error}; tokens were read without verification"))
    _view_findings(observation, unsent, host, path, findings)
    return AuditReport(
        source=observation.source,
        host=host,
        path=path,
        order="header" if observation.header_order else "derived",
        cookies=len(sent),
        unrelated=len(sent) - ours,
        header_bytes=header_bytes,
        heal_bytes=heal_bytes,
        families=families,
        findings=tuple(findings),
    )


# -- which cookies the request carries ----------------------------------------------------------


def _request_view(
    observation: Observation, prefixes: Sequence[str]
) -> tuple[list[ObservedCookie], list[ObservedCookie], str | None, str]:
    """The cookies the audited request carries, in sending order, and the auth cookies of an
    export it would not carry. A Cookie header or HAR is already that request; an export is a
    whole jar, judged for the request that sees the most auth cookies: the host they were set
    for and their deepest path (unless --host/--path say otherwise)."""
    if observation.header_order:
        return list(observation.cookies), [], observation.host, observation.path or "/"
    auth = [c for c in observation.cookies if family_of(c.name, prefixes)]
    host = observation.host or _likely_host(auth)
    visible_anywhere = [c for c in auth if _domain_visible(c, host)]
    path = observation.path or max(
        (c.path for c in visible_anywhere if c.path), key=len, default="/"
    )
    sent = [c for c in observation.cookies if _domain_visible(c, host) and _path_visible(c, path)]
    # RFC 6265 §5.4: longer paths first; among equal paths the older cookie, which an export
    # does not record, so the export's own order stands in (a stable sort keeps it).
    sent.sort(key=lambda c: -len(c.path or "/"))
    unsent = [c for c in auth if c not in sent]
    return sent, unsent, host, path


def _likely_host(auth: Sequence[ObservedCookie]) -> str | None:
    """The host a jar's auth cookies were written for: the host-only copies' host if any, else
    the domain of the Domain copies."""
    for host_only in (True, False):
        domains = Counter(c.domain.lstrip(".") for c in auth
                          if c.domain and bool(c.host_only) == host_only)
        if domains:
            return domains.most_common(1)[0][0]
    return None


def _domain_visible(cookie: ObservedCookie, host: str | None) -> bool:
    if cookie.domain is None or host is None:
        return True
    domain = cookie.domain.lstrip(".").lower()
    name = hostname(host)
    if cookie.host_only:
        return domain == name
    # RFC 6265 §5.1.3 domain-match: the host itself or a parent (never a bare top label).
    return domain == name or ("." in domain and name.endswith("." + domain))


def _path_visible(cookie: ObservedCookie, path: str) -> bool:
    """RFC 6265 §5.1.4 path-match: the cookie's path is one of the request path's ancestors."""
    return cookie.path is None or cookie.path in ancestor_paths(path, max_depth=path.count("/"))


def family_of(
    raw_name: str, prefixes: Sequence[str] = AUTH_PREFIXES
) -> tuple[str, str] | None:
    """The (prefix, client id) of an auth cookie name, raw or percent-encoded, under one of
    ``prefixes``; None otherwise."""
    name = unquote(raw_name) if "%" in raw_name else raw_name
    head, _, rest = name.partition(".")
    client_id, dot, tail = rest.partition(".")
    return (head, client_id) if head in prefixes and client_id and dot and tail else None


# -- one client id's family ---------------------------------------------------------------------


def _family(
    prefix: str,
    client_id: str,
    pool: PoolKeys | None,
    sent: Sequence[ObservedCookie],
    header: str,
    target: RequestTarget,
    policy: CookiePolicy,
    now: float,
    header_order: bool,
    findings: list[Finding],
) -> FamilyReport:
    scheme = pool.scheme if pool is not None else family_scheme(prefix, client_id)
    keys, token_rules = scheme.keys, scheme.rules
    reader = OfflineReader(token_rules)
    verified = pool is not None
    verifier, jwks = (pool.verifier, pool.jwks) if pool is not None else (reader, JwkSet())
    decision = SessionRules(keys=keys, verifier=verifier, policy=policy).decide(
        header, target, jwks, now)

    copies: list[CopyReport] = []
    for position, cookie in enumerate(sent):
        known = keys.classify(cookie.name)
        if known is None:
            continue
        value = decode_value(cookie.value)
        use = _TOKEN_USES.get(known.field)
        token = None if use is None else _token(value, use, reader, pool, now)
        copies.append(CopyReport(
            position, cookie.name, known.username, known.field,
            len(cookie.name) + 1 + len(cookie.value),
            _fingerprint(value),
            cookie.path, cookie.domain, cookie.host_only, token))

    def say(level: Level, code: str, message: str) -> None:
        findings.append(Finding(level, code, message, client_id))

    user = decision.username
    duplicates = _duplicates(copies, decision, keys, token_rules, verified, header_order)
    for dup in duplicates:
        say("problem", "duplicate",
            f"{_label(dup.username, dup.field)} sent {len(dup.copies)} times")
    users = dict.fromkeys(c.username for c in copies if c.username is not None)
    session_users = {c.username for c in copies if c.field in keys.session_fields}
    stale = tuple(u for u in users if u != user and u in session_users)
    device_only = tuple(u for u in users if u != user and u not in session_users)
    placeholder = user == FALLBACK_USERNAME and not any(c.username is None for c in copies)
    signed_in = (f"no LastAuthUser names a signed-in user (Amplify would use the placeholder "
                 f"{FALLBACK_USERNAME!r})" if placeholder else f"who is not the signed-in user "
                 f"{user!r}")
    for other in stale:
        say("problem", "stale-user", f"a session family of {other!r}, {signed_in}: the server "
            "deletes it")
    for other in device_only:
        say("note", "device-keys", f"device keys of {other!r} (kept: Amplify remembers devices "
            "across sign-outs)")
    strays = dict.fromkeys(c.domain.lstrip(".").lower() for c in copies
                           if c.domain and not c.host_only)
    reachable = {d for d in domain_variants(target.host, policy) if d is not None}
    for domain in strays:
        if target.host and domain not in reachable:
            say("warning", "stray-domain",
                f"copies under Domain={domain}, which the server never deletes (a parent domain "
                "it is not configured for): add it to CookiePolicy.extra_domains")
    for copy in copies:
        token = copy.token
        if token is not None and token.status in ("unreadable", "invalid"):
            say("problem", f"token-{token.status}", f"copy #{copy.position} "
                f"({_label(copy.username, copy.field)}): {token.detail}")
    _state_findings(decision, verified, say)
    healing, left_out = bounded(decision.plan)
    heal = tuple(render_set_cookie(cookie, policy) for cookie in healing)
    if left_out:
        say("warning", "heal-capped", f"{left_out} more deletions wait for a later response "
            "(one response carries at most 320 Set-Cookie lines): the browser sends those "
            "copies again and the next response deletes them")
    if heal:
        say("problem", "needs-healing",
            f"the server would send {len(heal)} Set-Cookie lines to heal this family")
    return FamilyReport(
        client_id=client_id,
        prefix=prefix,
        provider="oidc" if scheme.is_oidc else "cognito",
        verified=verified,
        last_auth_user=tuple(dict.fromkeys(decode_value(c.value) for c in sent
                                           if keys.classify(c.name) == _LAST_AUTH)),
        user=user,
        state=decision.state.value,
        reason=decision.reason,
        copies=tuple(copies),
        duplicates=duplicates,
        stale_users=stale,
        device_only_users=device_only,
        heal=heal,
    )


def _token(
    value: str, use: TokenUse, reader: OfflineReader, pool: PoolKeys | None, now: float
) -> TokenReport:
    """A token copy's claims, read offline, and the pool's verdict on it when there is a pool.
    A token the rules cannot read by design (an opaque OIDC access token) is "opaque": the
    server carries it as it is, so it is no problem."""
    rules = reader.rules
    if use == rules.companion_use and rules.is_opaque(value):
        return TokenReport(use, "opaque", False,
                           detail="not a JWT to us: carried, never trusted; expiry: expiresAt")
    try:
        read = reader.verify(value, use, JwkSet(), now)
    except InvalidToken as error:
        return TokenReport(use, "unreadable", False, detail=error.reason)
    if pool is not None:
        try:
            pool.verifier.verify(value, use, pool.jwks, now)
        except InvalidToken as error:
            return TokenReport(use, "invalid", False, read.exp, read.iat, error.reason)
    status = "expired" if read.exp <= now else "valid"
    return TokenReport(use, status, pool is not None, read.exp, read.iat)


def _duplicates(
    copies: Sequence[CopyReport],
    decision: Decision,
    keys: AmplifyKeys,
    rules: TokenRules,
    verified: bool,
    header_order: bool,
) -> tuple[DuplicateReport, ...]:
    groups: dict[tuple[str | None, str], list[CopyReport]] = {}
    for copy in copies:
        groups.setdefault((copy.username, copy.field), []).append(copy)
    writes = {c.name: decode_value(c.value) for c in decision.plan if c.value is not None}
    deleted = {c.name for c in decision.plan if c.value is None}
    reports = []
    for (username, field), group in groups.items():
        if len(group) < 2:
            continue
        first = group[0]
        # Without the browser's own order, equal path lengths leave the first copy unknown.
        ambiguous = not header_order and len(first.path or "/") == len(group[1].path or "/")
        canonical = keys.last_auth_user_name if username is None else keys.name(username, field)
        kept = writes.get(canonical)
        server = None
        if kept is not None:
            server = next((c.position for c in group
                           if _fingerprint(kept) == c.fingerprint), None)
            opaque = all(c.token is not None and c.token.status == "opaque" for c in group)
            rule = _keep_rule(field, rules, verified, opaque)
        elif {c.name for c in group} & deleted:
            rule = "none: every copy is deleted"
        else:
            rule = "none: left alone (" + ("a device key of another user)"
                                           if field in DEVICE_FIELDS else "no verdict)")
        reports.append(DuplicateReport(
            username, field, tuple(c.position for c in group),
            None if ambiguous else first.position, group[-1].position, server, rule))
    return tuple(reports)


def _keep_rule(field: str, rules: TokenRules, verified: bool, opaque: bool) -> str:
    """Why the server keeps the copy it keeps, in the words of ``SessionRules``: tokens by
    freshness, the rest (and opaque access tokens) by nearness to the winning identity token."""
    identity = field_of(rules.identity_use).removesuffix("Token") + " token"
    if field in _TOKEN_USES and not opaque:
        return "the freshest verified copy" if verified else (
            "the freshest readable copy (unverified: no pool or provider config)")
    if field == LAST_AUTH_USER:
        return f"the user whose {identity} is freshest"
    return f"the copy sent nearest the winning {identity}"


def _fingerprint(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogateescape")).hexdigest()[:12]


def _state_findings(decision: Decision, verified: bool, say: _Say) -> None:
    if decision.state is State.NEEDS_REFRESH:
        say("warning", "token-expired", f"the session needs a refresh ({decision.reason}); "
            "it has a refresh token, so the server refreshes it on the next request")
    elif decision.state is State.ANONYMOUS and decision.plan:
        say("problem", "session-unusable",
            f"the server would clear this session: {decision.reason}")
    if not verified:
        say("note", "unverified", "signatures not checked (no pool or provider config): a "
            "forged token would look valid here")


def _label(username: str | None, field: str) -> str:
    return field if username is None else f"{username}.{field}"


# -- sizes and the request view -----------------------------------------------------------------


def _size_findings(
    sent: Sequence[ObservedCookie], header_bytes: int, heal_bytes: int, findings: list[Finding]
) -> None:
    for cookie in sent:
        size = len(cookie.name) + 1 + len(cookie.value)
        if size > COOKIE_SIZE_LIMIT:
            findings.append(Finding("problem", "cookie-too-large", f"{cookie.name} is {size} "
                                    f"bytes; browsers drop cookies over {COOKIE_SIZE_LIMIT}"))
    if header_bytes > HEADER_LIMIT:
        findings.append(Finding("problem", "header-too-large", f"the Cookie header is "
                                f"{header_bytes} bytes: nginx answers 400 past {HEADER_LIMIT} "
                                "(large_client_header_buffers 8k)"))
    elif header_bytes > STRICT_HEADER_LIMIT:
        findings.append(Finding("warning", "header-large", f"the Cookie header is {header_bytes} "
                                f"bytes: over the {STRICT_HEADER_LIMIT}-byte line limit of "
                                "stricter proxies"))
    if heal_bytes > HEADER_LIMIT:
        findings.append(Finding("warning", "heal-large", f"the heal lines take {heal_bytes} "
                                f"bytes of response header: more than a {HEADER_LIMIT}-byte "
                                "proxy buffer (nginx proxy_buffer_size) may accept"))


def _view_findings(
    observation: Observation,
    unsent: Sequence[ObservedCookie],
    host: str | None,
    path: str,
    findings: list[Finding],
) -> None:
    if not observation.header_order:
        findings.append(Finding("note", "derived-order", "a jar export has no sending order: "
                                "it is derived from path lengths, and creation order (which "
                                "breaks ties) is unknown"))
    if unsent:
        paths = sorted({c.path or "/" for c in unsent})
        findings.append(Finding("note", "not-sent", f"{len(unsent)} auth cookies are not sent "
                                f"to {path}; audit again with --path (their paths: "
                                f"{', '.join(paths)})"))
    if host is None:
        findings.append(Finding("note", "host-unknown", "request host unknown: heal lines "
                                "cover host-only and configured domains only; pass --host"))
