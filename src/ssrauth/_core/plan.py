"""The cookie plan: which Set-Cookie lines one response sends. Pure.

Rules (RFC 6265), each enforced here once for every adapter:

* A browser cookie is identified by (name, domain, path) (§5.3 step 11). The plan holds at most
  one entry per identity; a write wins over a deletion of the same identity.
* Writes always use the policy's one canonical path and domain.
* A copy the browser sent on this request can only live on a path that path-matches the request
  (§5.1.4) and on the host-only or a Domain variant (§5.1.3), so that finite list is where we
  delete; how much of it, :meth:`PlanBuilder.delete` decides from how many copies were sent.
* Every line is well-formed and the whole is bounded, whatever the request held: names, paths
  and domains that RFC 6265's grammar does not allow get no line (no browser can hold such a
  cookie), Domain spellings are the host's own and the configured ones only (never one per
  label of a client-chosen Host), and :func:`bounded` caps a response's lines and bytes.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

from .cookies import (
    CookiePolicy,
    SetCookie,
    encode_value,
    is_cookie_name,
    is_cookie_path,
    is_cookie_value,
    is_domain_name,
)

__all__ = [
    "MAX_PATH_DEPTH",
    "MAX_SET_COOKIE_BYTES",
    "MAX_SET_COOKIE_LINES",
    "PlanBuilder",
    "RequestTarget",
    "ancestor_paths",
    "bounded",
    "configured_domains",
    "domain_variants",
    "hostname",
]

#: Deletions go to every ancestor of the request path, with and without a trailing slash, down to
#: this many segments. Deeper copies are rare (they need an explicit ``Path=``) and each level
#: adds two Set-Cookie lines per name and domain; proxies such as nginx refuse responses whose
#: headers pass their 4-8 KiB buffer, so the list must stay bounded.
MAX_PATH_DEPTH = 4

#: At most this many Set-Cookie lines, and this many bytes of them, in one response. A legitimate
#: plan stays far below (a sign-out on a 4-deep path under a configured parent domain: about 240
#: lines, 24 KiB); a padded Cookie header naming hundreds of made-up users must not turn a 4 KiB
#: request into a response of megabytes. What the cap leaves out (the deepest deletions first)
#: is still there on the next response, which deletes it then.
MAX_SET_COOKIE_LINES = 320
MAX_SET_COOKIE_BYTES = 32 * 1024

# A plan builder stops collecting deletions well past the cap: the rest could never be sent.
_MAX_ENTRIES = 4 * MAX_SET_COOKIE_LINES
# Bytes of a deletion line besides its name, path and domain: "=; Path=; Domain=; Max-Age=0;
# Secure" and the header's own "Set-Cookie: " and CRLF.
_LINE_OVERHEAD = 52


@dataclass(frozen=True, slots=True)
class RequestTarget:
    """The parts of a request the plan depends on."""

    path: str
    host: str


def ancestor_paths(request_path: str, max_depth: int = MAX_PATH_DEPTH) -> list[str]:
    """Cookie paths that path-match ``request_path`` (RFC 6265 §5.1.4), shortest first.

    ``/a/b/c`` → ``/``, ``/a``, ``/a/``, ``/a/b``, ``/a/b/``, ``/a/b/c``.

    Only paths a browser could have stored (:func:`is_cookie_path`): a prefix holding ``;``, a
    control character or non-ASCII text cannot be a cookie's Path, so it gets no deletion (and
    none of its characters reach a Set-Cookie line).
    """
    if not request_path.startswith("/"):
        return ["/"]
    # Every "/" after the first yields the prefix before it and the prefix through it; the
    # whole path matches itself. Empty segments ("/a//b") are paths like any other.
    slashes = [i for i, char in enumerate(request_path) if char == "/"][1 : max_depth + 1]
    paths = ["/"]
    for i in slashes:
        paths += [request_path[:i], request_path[: i + 1]]
    if len(slashes) < max_depth:
        paths.append(request_path)
    return [path for path in dict.fromkeys(paths) if path == "/" or is_cookie_path(path)]


def domain_variants(host: str, policy: CookiePolicy) -> list[str | None]:
    """The Domain spellings ssrauth deletes under for ``host``: host-only (None), the host's own
    ``Domain=<host>``, and the configured domains that domain-match it (§5.1.3).

    Not every parent label of the Host: the Host is the client's to choose, and one deletion per
    label per path per name let a 4 KiB request with a 2,000-label Host draw 18,000 Set-Cookie
    lines. A copy under a parent domain nobody configured is reported by ``ssrauth audit``; list
    it in ``CookiePolicy.extra_domains`` to have it deleted. A Host that is no DNS name (a
    ``;``, a control character) gets host-only deletions only; IP hosts only have host cookies
    (Chromium stores ``Domain=<the IP>`` as host-only).
    """
    name = hostname(host)
    if not name or not is_domain_name(name) or _is_ip(name):
        return [None]
    variants: list[str | None] = [None, name]
    for domain in configured_domains(policy):
        if name == domain or name.endswith("." + domain):
            variants.append(domain)
    return list(dict.fromkeys(variants))


def configured_domains(policy: CookiePolicy) -> list[str]:
    """The Domain attributes this deployment writes or once wrote."""
    return [d for d in (policy.domain, *policy.extra_domains) if d]


def hostname(host: str) -> str:
    """The host name of a Host header value: lower-cased, port and IPv6 brackets removed."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _is_ip(hostname: str) -> bool:
    try:
        ipaddress.ip_address(hostname)
    except ValueError:
        return False
    return True


class PlanBuilder:
    """Collects writes and deletions, then yields one Set-Cookie per browser cookie identity.

    ``sent`` counts the copies of each name the browser sent on this request: only a name it
    sent can have a copy this response reaches.
    """

    __slots__ = ("_deletions", "_entries", "_everywhere", "_lone", "_sent", "_target", "policy")

    def __init__(
        self, target: RequestTarget, policy: CookiePolicy, sent: Mapping[str, int]
    ) -> None:
        self.policy = policy
        self._target = target
        self._sent = sent
        self._everywhere: list[tuple[str, str | None]] | None = None  # built on first use
        self._lone: list[tuple[str, str | None]] | None = None
        self._entries: dict[tuple[str, str | None, str], SetCookie] = {}
        self._deletions = 0

    def write(self, name: str, value: str, *, verifiable: bool = False) -> None:
        """Set the canonical copy of ``name`` and delete the strays it may have.

        A name outside RFC 6265's grammar is never written (it would add attributes or split
        the line); a value outside it is written js-cookie encoded, as Amplify would store it.

        The strays of a name sent twice or more are deleted under every spelling on every
        ancestor path. So are those of a name sent once, unless the value is ``verifiable``: a
        signed token, of which the next request keeps the freshest copy that verifies, the one
        written now. Then the stray is deleted on every ancestor path host-only and under the
        configured domains, and under the host's own ``Domain=<host>`` at ``Path=/`` (where
        Amplify's ``CookieStorage({domain})`` keeps it) but not on its other paths: that copy
        needs a writer that sets a Domain but no Path, and on every path it would double the
        lines of each routine refresh (a refresh on a 4-deep page would pass the 8 KiB response
        head nginx buffers by default and turn into a 502). Such a copy is sent beside the one
        written now on the next request, as a duplicate, and that response deletes it. Any
        other value (a refresh token, clockDrift) is opaque: the next request could not tell a
        leftover from the copy written now, and might keep the leftover.
        """
        if not is_cookie_name(name):
            return
        copies = self._sent.get(name, 0)
        if copies:
            lone = copies == 1 and verifiable
            self._delete_at(name, self._lone_variants() if lone else self._all_variants())
        if not is_cookie_value(value):
            value = encode_value(value)
        cookie = SetCookie(name, value, self.policy.path, self.policy.domain)
        self._entries[cookie.target] = cookie

    def delete(self, name: str) -> None:
        """Delete every copy of ``name`` the browser may hold that this request can reach: on
        every ancestor path of the request (§5.1.4), host-only, under the host's own
        ``Domain=<host>`` and under the configured domains (§5.1.3).

        Nothing when the name was not sent (no copy path- or domain-matches this request) or
        cannot be carried by a Set-Cookie line. A name deleted outright (a stale spelling,
        another user's family, a sign-out) gets every spelling on every path even when sent
        once: nothing written under it will make a leftover copy show as a duplicate later.
        Unconfigured parent domains are never among the spellings (see :func:`domain_variants`).
        """
        if self._sent.get(name, 0) and is_cookie_name(name):
            self._delete_at(name, self._all_variants())

    def _delete_at(self, name: str, variants: list[tuple[str, str | None]]) -> None:
        for path, domain in variants:
            key = (name, domain, path)
            if key not in self._entries:
                if self._deletions >= _MAX_ENTRIES:
                    return  # far past what :func:`bounded` lets through
                self._deletions += 1
                self._entries[key] = SetCookie(name, None, path, domain)

    def _all_variants(self) -> list[tuple[str, str | None]]:
        if self._everywhere is None:
            domains = domain_variants(self._target.host, self.policy)
            self._everywhere = self._on_ancestor_paths(domains)
        return self._everywhere

    def _lone_variants(self) -> list[tuple[str, str | None]]:
        if self._lone is None:
            domains = domain_variants(self._target.host, self.policy)
            configured = set(configured_domains(self.policy))
            on_paths = [d for d in domains if d is None or d in configured]
            self._lone = self._on_ancestor_paths(on_paths) + [
                ("/", d) for d in domains if d not in on_paths]
        return self._lone

    def _on_ancestor_paths(self, domains: list[str | None]) -> list[tuple[str, str | None]]:
        # Only what this request can see: a copy on a path or domain that does not match it
        # was not sent, and deleting there would be wasted lines.
        return [(path, domain) for path in ancestor_paths(self._target.path) for domain in domains]

    def build(self) -> tuple[SetCookie, ...]:
        """Deletions first, then writes: a browser applying them in order ends with one copy."""
        entries = list(self._entries.values())
        return tuple(c for c in entries if c.value is None) + tuple(
            c for c in entries if c.value is not None
        )


def bounded(plan: tuple[SetCookie, ...]) -> tuple[tuple[SetCookie, ...], int]:
    """``plan`` within :data:`MAX_SET_COOKIE_LINES` lines and :data:`MAX_SET_COOKIE_BYTES`
    bytes, and how many deletions were left out (0 nearly always).

    Writes always go (they are the session); deletions are kept shallowest path first, host-only
    before Domain spellings, in plan order otherwise: a copy on ``Path=/`` is the one every page
    sends, and a copy left out is deleted by a later response, once the browser sends it again.
    """
    writes = [c for c in plan if c.value is not None]
    budget = MAX_SET_COOKIE_BYTES - sum(_line_bytes(c) for c in writes)
    room = MAX_SET_COOKIE_LINES - len(writes)
    deletions = [c for c in plan if c.value is None]
    if len(deletions) <= room and sum(_line_bytes(c) for c in deletions) <= budget:
        return plan, 0
    ranked = sorted(deletions, key=lambda c: (c.path.count("/"), len(c.path), c.domain is not None))
    kept: list[SetCookie] = []
    for cookie in ranked:
        size = _line_bytes(cookie)
        if len(kept) >= room or size > budget:
            break
        kept.append(cookie)
        budget -= size
    chosen = set(map(id, kept))
    ordered = tuple(c for c in deletions if id(c) in chosen) + tuple(writes)
    return ordered, len(deletions) - len(kept)


def _line_bytes(cookie: SetCookie) -> int:
    return (len(cookie.name) + len(cookie.value or "") + len(cookie.path)
            + len(cookie.domain or "") + _LINE_OVERHEAD)
