"""A cookie jar that stores and sends cookies the way a browser does (RFC 6265 §5.1-5.4), so
tests assert what the browser ends up holding rather than which headers a response had.

Identity follows Chromium, which is stricter than the RFC: a host-only cookie and a Domain
cookie for the same host are two cookies (Chromium keeps domain cookies as ".host"), so a plan
that forgets either variant leaves a copy behind here just as it would in Chrome.
"""

from __future__ import annotations

import itertools
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
        return (self.name, self.domain, self.host_only, self.path)


def path_matches(request_path: str, cookie_path: str) -> bool:
    """RFC 6265 §5.1.4 path-match."""
    if request_path == cookie_path:
        return True
    if request_path.startswith(cookie_path):
        return cookie_path.endswith("/") or request_path[len(cookie_path)] == "/"
    return False


def domain_matches(host: str, domain: str) -> bool:
    """RFC 6265 §5.1.3 domain-match (host names only; IPs must be identical)."""
    return host == domain or (host.endswith("." + domain) and not host.replace(".", "").isdigit())


class BrowserJar:
    def __init__(self, host: str = "app.example.com") -> None:
        self.host = host
        self.cookies: list[StoredCookie] = []

    def seed(self, name: str, value: str, *, path: str = "/", domain: str | None = None) -> None:
        """Put a cookie in the jar as if an earlier response had set it."""
        line = f"{name}={value}; Path={path}" + (f"; Domain={domain}" if domain else "")
        self.apply([line], request_path=path)

    def apply(self, set_cookie_lines: list[str], request_path: str = "/") -> None:
        """RFC 6265 §5.2 parsing and §5.3 storage of each Set-Cookie, in order."""
        for line in set_cookie_lines:
            self._store(line, request_path)

    def _store(self, line: str, request_path: str) -> None:
        pair, *attributes = line.split(";")
        if "=" not in pair:
            return
        name, value = (part.strip() for part in pair.split("=", 1))
        path: str | None = None
        domain: str | None = None
        expired = False
        for attribute in attributes:
            key, _, attr_value = attribute.strip().partition("=")
            key = key.strip().lower()
            attr_value = attr_value.strip()
            if key == "path":
                # §5.2.4 + §5.3 step 7: the last Path wins; a non-absolute one means default.
                path = attr_value if attr_value.startswith("/") else None
            elif key == "domain" and attr_value:
                domain = attr_value.lstrip(".").lower()
            elif key == "max-age":
                expired = int(attr_value) <= 0
            elif key == "expires" and not any(a.strip().lower().startswith("max-age")
                                              for a in attributes):
                expired = parsedate_to_datetime(attr_value).timestamp() <= 0
        if domain is not None:
            if not domain_matches(self.host, domain):
                return  # §5.3 step 6: the browser ignores the whole cookie
            stored_domain, host_only = domain, False
        else:
            stored_domain, host_only = self.host, True
        if domain is not None and domain == self.host and self.host.replace(".", "").isdigit():
            host_only = True  # Chromium: a Domain equal to an IP host makes a host cookie
        cookie = StoredCookie(name, value, stored_domain, host_only,
                              path or default_path(request_path), next(_creation))
        existing = [c for c in self.cookies if c.identity == cookie.identity]
        for old in existing:
            self.cookies.remove(old)
            cookie.created = old.created  # §5.3 step 11.3: keep the old creation time
        if not expired:
            self.cookies.append(cookie)

    def visible(self, path: str = "/") -> list[StoredCookie]:
        """Cookies sent on a request to ``path``, in the §5.4 order."""
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
