"""What the browser holds of our auth cookies, as read from one request. Pure.

A browser sends every copy of a name whose (domain, path) matches the request, so one field can
arrive several times, under raw and percent-encoded names, and for several users. This module
keeps all of it, in header order, for the decision and the plan to reason about.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .cookies import cookie_pieces, decode_value, pair_name, pair_value
from .keys import FALLBACK_USERNAME, LAST_AUTH_USER, AmplifyKeys
from .memo import Memo

__all__ = [
    "AuthCookie",
    "CookieFamily",
    "auth_pieces",
    "read_family",
]


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
    #: Copies by (username, field), in header order: the decision asks for one field at a time,
    #: several times per request, and scanning every copy for each question added up.
    by_field: dict[tuple[str | None, str], list[AuthCookie]] = field(
        init=False, repr=False, compare=False, hash=False
    )
    #: Each copy's position among our copies, per (username, field): ``entries`` would scan
    #: every copy for every user otherwise, quadratic in the users a jar names (the audit reads
    #: headers of any size).
    positions: dict[tuple[str | None, str], list[int]] = field(
        init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        index: dict[tuple[str | None, str], list[AuthCookie]] = {}
        where: dict[tuple[str | None, str], list[int]] = {}
        for position, c in enumerate(self.copies):
            key = (c.username, c.field)
            group = index.get(key)
            if group is None:
                index[key] = [c]
                where[key] = [position]
            else:
                group.append(c)
                where[key].append(position)
        object.__setattr__(self, "by_field", index)
        object.__setattr__(self, "positions", where)

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
        key = (username, field)
        return [(i, c.value) for i, c in zip(self.positions.get(key, ()),
                                             self.by_field.get(key, ()), strict=True)]

    def values(self, username: str | None, field: str) -> list[str]:
        """Every copy's value of one field, header order, repeats kept (order carries meaning)."""
        return [c.value for c in self.by_field.get((username, field), ())]

    def last_auth_users(self) -> list[str]:
        """Distinct LastAuthUser values, header order; Amplify's fallback when there is none."""
        users = _distinct(self.values(None, LAST_AUTH_USER))
        return users or [FALLBACK_USERNAME]

    def raw_names(self, username: str | None, field: str) -> list[str]:
        """Distinct wire names of one field (``a@b`` and ``a%40b`` are two browser cookies)."""
        group = self.by_field.get((username, field), ())
        if len(group) == 1:
            return [group[0].raw_name]
        return _distinct(c.raw_name for c in group)

    def duplicated(self) -> list[tuple[str | None, str]]:
        """(username, field) pairs the browser sent more than once, under any name spelling."""
        return [key for key, group in self.by_field.items() if len(group) > 1]


def auth_pieces(header: str, prefix: str) -> tuple[str, ...]:
    """The ``name=value`` pieces of a Cookie header that may be ours, raw and in order.

    A superset of what :func:`read_family` keeps (a name starting with our prefix or holding a
    ``%``), cut by the Cookie-header parser's own :func:`~ssrauth._core.cookies.cookie_pieces`
    and found with C-speed string searches. The session depends on these pieces only, so they
    key the decision memo: analytics cookies that change on every page view (GA4's ``_ga_<id>``
    carries the last hit's time) no longer defeat it.
    """
    # A list comprehension (no generator frame) and the C-speed ``"%" in piece`` first: most
    # pieces hold no ``%`` at all, so their name is never cut out.
    return tuple([piece for piece in cookie_pieces(header)
                  if prefix in piece or ("%" in piece and "%" in piece.partition("=")[0])])


def read_family(pieces: Iterable[str], keys: AmplifyKeys) -> CookieFamily:
    """Our copies among Cookie-header pieces (see :func:`auth_pieces`), with the parsing rules
    of :func:`~ssrauth._core.cookies.parse_cookie_header`; a pair whose name cannot be ours is
    dropped before its value is cut out or wrapped in an object."""
    prefix = keys.prefix
    copies = []
    for piece in pieces:
        named = pair_name(piece)
        if named is None:
            continue
        name = named[0]
        if not name.startswith(prefix) and "%" not in name:
            continue
        known = keys.classify(name)
        if known is None:
            continue
        value = pair_value(piece, named[1])
        if "%" in value:  # JWTs never contain "%"; signInDetails JSON always does
            value = _decoded.get_or_compute(value, decode_value)
        copies.append(AuthCookie(name, known.username, known.field, value))
    return CookieFamily(tuple(copies))


_decoded: Memo[str, str] = Memo(4096)


def _distinct(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))
