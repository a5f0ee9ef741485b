"""A cookie jar that stores and sends cookies the way a browser does (RFC 6265bis §5.6-5.8), so
tests assert what the browser ends up holding rather than which headers a response had.

What the deletion properties depend on, each rule as RFC 6265bis states it:

* §5.6.3 Domain: a leading ``.`` is dropped and the value lower-cased; an empty value is ignored.
* §5.6.4 Path: a value that does not start with ``/`` (or none) means the default-path, the
  directory of the request path (§5.1.4).
* §5.7 storage, steps on the domain: a Domain the request host does not domain-match (§5.1.3)
  makes the browser ignore the whole cookie; otherwise the cookie is a Domain cookie (host-only
  flag false); without a Domain it is host-only, under the request host.
* §5.7 step 23: a new cookie replaces a stored one only when name, domain, host-only flag and
  path are all the same (keeping the old creation time); a host-only cookie and a Domain cookie
  for the same host are two cookies (Chromium keeps the latter as ``.host``). A replacement that
  is already expired (``Max-Age`` of 0 or less, §5.6.2; ``Expires`` in the past, §5.6.1)
  deletes. So a deletion reaches only the copy of exactly its spelling, as in Chrome.
* §5.8.3 retrieval: a host-only cookie goes to its own host only, a Domain cookie to every host
  that domain-matches it; both only on paths that path-match (§5.1.4); longer paths first, then
  older first.

One departure, Chromium's: ``Domain=<the host's IP address>`` stores a host-only cookie (the
RFC would store a Domain cookie that matches the same single host).
"""

from __future__ import annotations

import ipaddress
import itertools
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from ssrauth._core.cookies import default_path

_creation = itertools.count()


@dataclass
class StoredCookie:
    name: str
    value: str
    domain: str
    host_only: bool
    path: str
    created: int

    @property
    def identity(self) -> tuple[str, str, bool, str]:
        """RFC 6265bis §5.7 step 23: what a later Set-Cookie must repeat to replace this one."""
        return (self.name, self.domain, self.host_only, self.path)


def path_matches(request_path: str, cookie_path: str) -> bool:
    """RFC 6265bis §5.1.4 path-match."""
    if request_path == cookie_path:
        return True
    if request_path.startswith(cookie_path):
        return cookie_path.endswith("/") or request_path[len(cookie_path)] == "/"
    return False


def domain_matches(host: str, domain: str) -> bool:
    """RFC 6265bis §5.1.3 domain-match: identical, or ``domain`` a suffix of ``host`` after a
    ``.`` when ``host`` is a host name (an IP address only matches itself)."""
    return host == domain or (host.endswith("." + domain) and not is_ip_address(host))


def is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _max_age(value: str) -> int | None:
    """RFC 6265bis §5.6.2: delta-seconds, optionally negative; anything else is ignored."""
    digits = value[1:] if value.startswith("-") else value
    return int(value) if digits.isdigit() else None


class BrowserJar:
    def __init__(self, host: str = "app.example.com") -> None:
        self.host = host
        self.cookies: list[StoredCookie] = []

    def seed(self, name: str, value: str, *, path: str = "/", domain: str | None = None) -> None:
        """Put a cookie in the jar as if an earlier response had set it."""
        line = f"{name}={value}; Path={path}" + (f"; Domain={domain}" if domain else "")
        self.apply([line], request_path=path)

    def apply(self, set_cookie_lines: list[str], request_path: str = "/") -> None:
        """RFC 6265bis §5.6 parsing and §5.7 storage of each Set-Cookie, in order."""
        for line in set_cookie_lines:
            self._store(line, request_path)

    def _store(self, line: str, request_path: str) -> None:
        pair, *attributes = line.split(";")
        if "=" not in pair:
            return
        name, value = (part.strip() for part in pair.split("=", 1))
        path: str | None = None
        domain: str | None = None
        max_age: int | None = None
        expires: float | None = None
        for attribute in attributes:
            key, _, attr_value = attribute.strip().partition("=")
            key = key.strip().lower()
            attr_value = attr_value.strip()
            if key == "path":
                # §5.6.4 + §5.7: the last Path wins; a non-absolute one means default.
                path = attr_value if attr_value.startswith("/") else None
            elif key == "domain" and attr_value:
                domain = attr_value.removeprefix(".").lower()
            elif key == "max-age":
                max_age = _max_age(attr_value)
            elif key == "expires":
                expires = parsedate_to_datetime(attr_value).timestamp()
        # §5.7: Max-Age wins over Expires.
        expired = max_age <= 0 if max_age is not None else (
            expires is not None and expires <= time.time())
        if domain is not None:
            if not domain_matches(self.host, domain):
                return  # §5.7: the browser ignores the whole cookie
            stored_domain, host_only = domain, False
            if domain == self.host and is_ip_address(self.host):
                host_only = True  # Chromium: a Domain equal to an IP host makes a host cookie
        else:
            stored_domain, host_only = self.host, True
        cookie = StoredCookie(name, value, stored_domain, host_only,
                              path or default_path(request_path), next(_creation))
        existing = [c for c in self.cookies if c.identity == cookie.identity]
        for old in existing:
            self.cookies.remove(old)
            cookie.created = old.created  # §5.7 step 23: keep the old creation time
        if not expired:
            self.cookies.append(cookie)

    def visible(self, path: str = "/") -> list[StoredCookie]:
        """Cookies sent on a request to ``path``, in the §5.8.3 order."""
        matching = [
            c for c in self.cookies
            if (c.domain == self.host if c.host_only else domain_matches(self.host, c.domain))
            and path_matches(path, c.path)
        ]
        return sorted(matching, key=lambda c: (-len(c.path), c.created))

    def cookie_header(self, path: str = "/") -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.visible(path))

    def copies(self, name: str) -> list[StoredCookie]:
        return [c for c in self.cookies if c.name == name]

    def names(self) -> list[str]:
        return [c.name for c in self.cookies]
