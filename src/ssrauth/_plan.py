"""The cookie plan: which Set-Cookie lines one response sends. Pure.

Rules (RFC 6265), each enforced here once for every adapter:

* A browser cookie is identified by (name, domain, path) (§5.3 step 11). The plan holds at most
  one entry per identity; a write wins over a deletion of the same identity.
* Writes always use the policy's one canonical path and domain.
* A copy the browser sent on this request can only live on a path that path-matches the request
  (§5.1.4) and on the host-only or a Domain variant (§5.1.3), so that finite list is where we
  delete: every non-canonical variant of every name we rewrite or clear.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ._cookies import CookiePolicy, SetCookie

__all__ = ["MAX_PATH_DEPTH", "PlanBuilder", "RequestTarget", "ancestor_paths"]

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
    segments = request_path.split("/")[1:]
    paths = ["/"]
    current = ""
    for index, segment in enumerate(segments[:max_depth]):
        if not segment:
            break  # "//" or a trailing "/": nothing deeper can path-match
        current = f"{current}/{segment}"
        paths.append(current)
        is_last = index == len(segments) - 1
        if not is_last or request_path.endswith(current + "/"):
            paths.append(current + "/")
    return paths


def domain_variants(host: str, policy: CookiePolicy) -> list[str | None]:
    """Domains a copy visible to ``host`` may carry: host-only (None), the host as a Domain,
    the configured domain and any extra domains that match the host (§5.1.3 domain-match)."""
    hostname = _hostname(host)
    variants: list[str | None] = [None]
    if not _is_ip(hostname) and hostname:
        variants.append(hostname)
    for domain in (policy.domain, *policy.extra_domains):
        if domain and (hostname == domain or hostname.endswith("." + domain)):
            variants.append(domain)
    return list(dict.fromkeys(variants))


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
    """Collects writes and deletions, then yields one Set-Cookie per browser cookie identity."""

    __slots__ = ("_entries", "_seen", "_target", "_variants", "policy")

    def __init__(
        self, target: RequestTarget, policy: CookiePolicy, seen: frozenset[str] = frozenset()
    ) -> None:
        self.policy = policy
        self._target = target
        self._seen = seen
        self._variants: list[tuple[str, str | None]] | None = None  # built on first deletion
        self._entries: dict[tuple[str, str | None, str], SetCookie] = {}

    def variants(self) -> list[tuple[str, str | None]]:
        """Every (path, domain) under which a copy visible to this request can live."""
        if self._variants is None:
            paths = ancestor_paths(self._target.path)
            if self.policy.path not in paths:
                paths.append(self.policy.path)
            domains = domain_variants(self._target.host, self.policy)
            if self.policy.domain not in domains:
                domains.append(self.policy.domain)
            self._variants = [(path, domain) for path in paths for domain in domains]
        return self._variants

    def write(self, name: str, value: str) -> None:
        """Set the canonical copy and delete every other variant of ``name``.

        Variants are deleted only when the browser sent ``name`` on this request: a cookie it did
        not send has no copy on any path or domain this request matches, and the deletions
        could reach no other copy anyway.
        """
        if name in self._seen:
            self.delete_everywhere(name)
        cookie = SetCookie(name, value, self.policy.path, self.policy.domain)
        self._entries[cookie.target] = cookie

    def delete_everywhere(self, name: str) -> None:
        """Delete ``name`` on every (path, domain) the browser could hold it under."""
        for path, domain in self.variants():
            key = (name, domain, path)
            if key not in self._entries:
                self._entries[key] = SetCookie(name, None, path, domain)

    def build(self) -> tuple[SetCookie, ...]:
        """Deletions first, then writes: a browser applying them in order ends with one copy."""
        entries = list(self._entries.values())
        return tuple(c for c in entries if c.value is None) + tuple(
            c for c in entries if c.value is not None
        )
