"""The cookie plan: which Set-Cookie lines one response sends. Pure.

Rules (RFC 6265), each enforced here once for every adapter:

* A browser cookie is identified by (name, domain, path) (§5.3 step 11). The plan holds at most
  one entry per identity; a write wins over a deletion of the same identity.
* Writes always use the policy's one canonical path and domain.
* A copy the browser sent on this request can only live on a path that path-matches the request
  (§5.1.4) and on the host-only or a Domain variant (§5.1.3), so that finite list is where we
  delete; how much of it, :meth:`PlanBuilder.delete` decides from how many copies were sent.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

from ._cookies import CookiePolicy, SetCookie

__all__ = [
    "MAX_PATH_DEPTH",
    "PlanBuilder",
    "RequestTarget",
    "ancestor_paths",
    "configured_domains",
    "domain_variants",
]

#: Deletions go to every ancestor of the request path, with and without a trailing slash, down to
#: this many segments. Deeper copies are rare (they need an explicit ``Path=``) and each level
#: adds two Set-Cookie lines per name and domain; proxies such as nginx refuse responses whose
#: headers pass their 4-8 KiB buffer, so the list must stay bounded.
MAX_PATH_DEPTH = 4


@dataclass(frozen=True, slots=True)
class RequestTarget:
    """The parts of a request the plan depends on."""

    path: str
    host: str


def ancestor_paths(request_path: str, max_depth: int = MAX_PATH_DEPTH) -> list[str]:
    """Cookie paths that path-match ``request_path`` (RFC 6265 §5.1.4), shortest first.

    ``/a/b/c`` → ``/``, ``/a``, ``/a/``, ``/a/b``, ``/a/b/``, ``/a/b/c``.
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
    return list(dict.fromkeys(paths))


def domain_variants(host: str, policy: CookiePolicy) -> list[str | None]:
    """Domains a copy visible to ``host`` may carry (§5.1.3 domain-match): host-only (None), the
    host itself and each parent domain as a Domain attribute, and the configured domains.

    Parents stop at two labels: a browser refuses ``Domain=com`` anyway. IP hosts only have
    host cookies (Chromium stores ``Domain=<the IP>`` as host-only).
    """
    hostname = _hostname(host)
    variants: list[str | None] = [None]
    if hostname and not _is_ip(hostname):
        labels = hostname.split(".")
        variants += [".".join(labels[i:]) for i in range(max(len(labels) - 1, 1))]
    for domain in configured_domains(policy):
        if hostname == domain or hostname.endswith("." + domain):
            variants.append(domain)
    return list(dict.fromkeys(variants))


def configured_domains(policy: CookiePolicy) -> list[str]:
    """The Domain attributes this deployment writes or once wrote."""
    return [d for d in (policy.domain, *policy.extra_domains) if d]


def _hostname(host: str) -> str:
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

    ``sent`` counts the copies of each name the browser sent on this request: it decides how
    wide a write's deletions must reach.
    """

    __slots__ = ("_configured", "_entries", "_everywhere", "_sent", "_target", "policy")

    def __init__(
        self, target: RequestTarget, policy: CookiePolicy, sent: Mapping[str, int]
    ) -> None:
        self.policy = policy
        self._target = target
        self._sent = sent
        self._everywhere: list[tuple[str, str | None]] | None = None  # built on first use
        self._configured: list[tuple[str, str | None]] | None = None
        self._entries: dict[tuple[str, str | None, str], SetCookie] = {}

    def write(self, name: str, value: str) -> None:
        """Set the canonical copy of ``name`` and delete the strays it may have."""
        self.delete(name)
        cookie = SetCookie(name, value, self.policy.path, self.policy.domain)
        self._entries[cookie.target] = cookie

    def delete(self, name: str, *, sweep: bool = False) -> None:
        """Delete every copy of ``name`` the browser may hold that this request can reach.

        * Not sent on this request: no copy path- or domain-matches it; nothing to delete.
        * Sent once: the copy may sit on any ancestor path of the request (§5.1.4), host-only
          or under a configured domain; all of those are deleted except the canonical one.
        * Sent twice or more: something wrote it elsewhere, perhaps with a Domain attribute no
          one configured; the sweep also covers ``Domain=<host>`` and every parent domain.

        Unconfigured Domain spellings are left out of the single-copy case on purpose: each
        one adds a line per path per name to every refresh, and proxies such as nginx answer
        502 to response headers beyond their 4-8 KiB buffer. ``sweep`` (the session is ending,
        no later response may reach a lone copy) adds every Domain spelling at ``Path=/``,
        where a client that sets a Domain keeps its cookies (Amplify's CookieStorage default).
        """
        copies = self._sent.get(name, 0)
        if copies > 1:
            self._delete_at(name, self._all_variants())
        elif copies == 1:
            self._delete_at(name, self._configured_variants())
            if sweep:
                domains = domain_variants(self._target.host, self.policy)
                self._delete_at(name, [("/", domain) for domain in domains])

    def _delete_at(self, name: str, variants: list[tuple[str, str | None]]) -> None:
        for path, domain in variants:
            key = (name, domain, path)
            if key not in self._entries:
                self._entries[key] = SetCookie(name, None, path, domain)

    def _all_variants(self) -> list[tuple[str, str | None]]:
        if self._everywhere is None:
            domains = domain_variants(self._target.host, self.policy)
            self._everywhere = self._on_ancestor_paths(domains)
        return self._everywhere

    def _configured_variants(self) -> list[tuple[str, str | None]]:
        if self._configured is None:
            configured = set(configured_domains(self.policy))
            domains = [d for d in domain_variants(self._target.host, self.policy)
                       if d is None or d in configured]
            self._configured = self._on_ancestor_paths(domains)
        return self._configured

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
