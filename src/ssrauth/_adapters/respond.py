"""What every adapter does to a response, written once: merge the core's headers into the
application's, and answer a request that needs a user and has none.

Adapters differ only in the shape of their headers (ASGI bytes, WSGI strings, Django's response
object); the choices (which lines, what replaces what, 401 or 503) are made here and in the core.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .._manager.manager import RequestAuth

__all__ = [
    "Refusal",
    "aadded_headers",
    "added_headers",
    "amerged_headers",
    "merged_headers",
    "nothing_to_add",
    "refusal",
]

Headers = Sequence[tuple[str, str]]


def nothing_to_add(auth: RequestAuth) -> bool:
    """Nearly every response: nothing planned and no tokens, so its headers are left alone
    without even being looked at."""
    return not auth.outcome.plan and auth.outcome.tokens is None and not auth.extra_set_cookies


def added_headers(auth: RequestAuth, headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The core's headers for this response, given the application's own; [] to leave them be.

    The application's Set-Cookie lines go to the core, which leaves any cookie the application set
    itself to it, so a response never carries two Set-Cookie lines for one cookie. Blocking (the
    sign-out re-check may ask the coordinator's store): for WSGI and Django under WSGI.
    """
    if nothing_to_add(auth):
        return []
    return auth.response_headers(_app_set_cookies(headers))


async def aadded_headers(
    auth: RequestAuth, headers: Iterable[tuple[str, str]]
) -> list[tuple[str, str]]:
    """:func:`added_headers` on an event loop: the sign-out re-check is awaited, never a
    blocking store round trip inside the server's ``send``."""
    if nothing_to_add(auth):
        return []
    return await auth.aresponse_headers(_app_set_cookies(headers))


def merged_headers(auth: RequestAuth, headers: Headers) -> list[tuple[str, str]] | None:
    """The response's headers with the core's added; None when nothing changes."""
    return _merged(headers, added_headers(auth, headers))


async def amerged_headers(auth: RequestAuth, headers: Headers) -> list[tuple[str, str]] | None:
    """:func:`merged_headers` on an event loop."""
    return _merged(headers, await aadded_headers(auth, headers))


def _app_set_cookies(headers: Iterable[tuple[str, str]]) -> list[str]:
    return [value for name, value in headers if name.lower() == "set-cookie"]


def _merged(headers: Headers, added: list[tuple[str, str]]) -> list[tuple[str, str]] | None:
    """A header the core adds other than Set-Cookie (``Cache-Control: no-store``) replaces the
    application's: a response that sets auth cookies must not be stored by a shared cache."""
    if not added:
        return None
    replaced = {name.lower() for name, _ in added} - {"set-cookie"}
    return [(name, value) for name, value in headers if name.lower() not in replaced] + added


@dataclass(frozen=True, slots=True)
class Refusal:
    """The answer to a request that requires a user and has none."""

    status: int
    detail: str
    #: Seconds, for a 503: when to try again.
    retry_after: int | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {} if self.retry_after is None else {"Retry-After": str(self.retry_after)}


def refusal(auth: RequestAuth) -> Refusal | None:
    """None when the request has a user; else 401, or 503 with ``Retry-After`` when the provider
    could not be reached to refresh (the user may well be signed in: a 401 would send the browser
    to a sign-in page for an outage)."""
    if auth.session is not None:
        return None
    if auth.unavailable is not None:
        return Refusal(503, "authentication provider unavailable, retry shortly",
                       auth.unavailable.retry_after)
    return Refusal(401, "sign-in required")
