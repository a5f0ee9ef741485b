"""What the browser holds of our auth cookies, as read from one request. Pure.

A browser sends every copy of a name whose (domain, path) matches the request, so one field can
arrive several times, under raw and percent-encoded names, and for several users. This module
keeps all of it, in header order, for the decision and the plan to reason about.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ._cookies import RequestCookie, decode_value
from ._keys import FALLBACK_USERNAME, LAST_AUTH_USER, AmplifyKeys
from ._memo import Memo

__all__ = ["AuthCookie", "CookieFamily", "read_family"]


@dataclass(frozen=True, slots=True)
class AuthCookie:
    """One copy of one of our cookies: the exact name sent (to delete it) and the decoded value."""

    raw_name: str
    username: str | None  # None for LastAuthUser
    field: str
    value: str


@dataclass(frozen=True, slots=True)
class CookieFamily:
    """All copies of our client id's cookies on one request, in header order."""

    copies: tuple[AuthCookie, ...]

    @property
    def is_empty(self) -> bool:
        return not self.copies

    @property
    def sent_counts(self) -> dict[str, int]:
        """How many copies of each wire name the browser sent."""
        counts: dict[str, int] = {}
        for c in self.copies:
            counts[c.raw_name] = counts.get(c.raw_name, 0) + 1
        return counts

    def entries(self, username: str | None, field: str) -> list[tuple[int, str]]:
        """(position among our copies, value) of every copy of one field, header order."""
        return [(i, c.value) for i, c in enumerate(self.copies)
                if c.username == username and c.field == field]

    def values(self, username: str | None, field: str) -> list[str]:
        """Every copy's value of one field, header order, repeats kept (order carries meaning)."""
        return [c.value for c in self.copies if c.username == username and c.field == field]

    def last_auth_users(self) -> list[str]:
        """Distinct LastAuthUser values, header order; Amplify's fallback when there is none."""
        users = _distinct(self.values(None, LAST_AUTH_USER))
        return users or [FALLBACK_USERNAME]

    def usernames(self) -> list[str]:
        """Every user that has at least one per-user cookie, header order."""
        return _distinct(c.username for c in self.copies if c.username is not None)

    def raw_names(self, username: str | None, field: str) -> list[str]:
        """Distinct wire names of one field (``a@b`` and ``a%40b`` are two browser cookies)."""
        return _distinct(
            c.raw_name for c in self.copies if c.username == username and c.field == field
        )

    def duplicated(self) -> list[tuple[str | None, str]]:
        """(username, field) pairs the browser sent more than once, under any name spelling."""
        seen: dict[tuple[str | None, str], int] = {}
        for c in self.copies:
            key = (c.username, c.field)
            seen[key] = seen.get(key, 0) + 1
        return [key for key, count in seen.items() if count > 1]


def read_family(cookies: Iterable[RequestCookie], keys: AmplifyKeys) -> CookieFamily:
    copies = []
    for cookie in cookies:
        name = keys.classify(cookie.name)
        if name is not None:
            value = cookie.value
            if "%" in value:  # JWTs never contain "%"; signInDetails JSON always does
                value = _decoded.get_or_compute(value, decode_value)
            copies.append(AuthCookie(cookie.name, name.username, name.field, value))
    return CookieFamily(tuple(copies))


_decoded: Memo[str, str] = Memo(4096)


def _distinct(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))
