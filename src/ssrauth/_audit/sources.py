"""``ssrauth audit`` inputs: a Cookie header, a HAR, or a Playwright/Chromium cookie export,
told apart by their content, turned into an :class:`~ssrauth._audit.analysis.Observation`. Pure: the
CLI reads the bytes, these functions only interpret text.

Anything that is not one of those formats raises :class:`SourceError` with a one-line message;
nothing else escapes, whatever the text holds.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from .._core.cookies import parse_cookie_header
from .._core.errors import SourceError
from .analysis import AUTH_PREFIXES, Observation, ObservedCookie, family_of

__all__ = ["SourceError", "read_source"]


def read_source(
    text: str,
    *,
    label: str,
    host: str | None = None,
    path: str | None = None,
    prefixes: Sequence[str] = AUTH_PREFIXES,
) -> Observation:
    """Interpret ``text``: JSON (a HAR, a ``context.cookies()`` list or a ``storage_state``
    document) when it looks like JSON, otherwise a Cookie header. ``prefixes`` name the auth
    cookies that pick a HAR's request."""
    stripped = text.strip()
    if stripped[:1] in ("{", "["):
        try:
            document = json.loads(stripped)
        except ValueError as error:
            raise SourceError(f"{label}: looks like JSON but is not: {error}") from None
        return _from_json(document, label=label, host=host, path=path, prefixes=prefixes)
    return _from_header(stripped, label=label, host=host, path=path)


def _from_header(text: str, *, label: str, host: str | None, path: str | None) -> Observation:
    """A Cookie header, as copied from devtools or curl: an optional ``Cookie:`` prefix, and
    several lines (HTTP/2 may send one cookie per header) joined like RFC 6265 §5.4 joins them."""
    lines = []
    for line in text.splitlines():
        line = line.strip()
        if line[:7].lower() == "cookie:":
            line = line[7:].strip()
        if line:
            lines.append(line)
    header = "; ".join(lines)
    cookies = _header_cookies(header)
    if not cookies:
        raise SourceError(f"{label}: no cookies found (expected name=value pairs)")
    return Observation(cookies, header_order=True, source=f"Cookie header ({label})",
                       host=host, path=path, raw_header=header)


def _from_json(
    document: Any, *, label: str, host: str | None, path: str | None, prefixes: Sequence[str]
) -> Observation:
    if isinstance(document, Mapping):
        log = document.get("log")
        if isinstance(log, Mapping) and isinstance(log.get("entries"), list):
            return _from_har(log["entries"], label=label, host=host, path=path,
                             prefixes=prefixes)
        if isinstance(document.get("cookies"), list):  # Playwright storage_state
            return _from_export(document["cookies"], label=label, host=host, path=path)
    elif isinstance(document, list):  # Playwright context.cookies(), or a Chromium export
        return _from_export(document, label=label, host=host, path=path)
    raise SourceError(f"{label}: JSON, but neither a HAR ({{\"log\": {{\"entries\": ...}}}}) nor "
                      "a cookie list nor a storage_state document")


def _from_export(
    items: list[Any], *, label: str, host: str | None, path: str | None
) -> Observation:
    """Playwright's cookie objects (``name``, ``value``, ``domain``, ``path``…). A domain with a
    leading dot is a Domain cookie, one without is host-only (Playwright and Chromium's
    convention); an explicit ``hostOnly`` (Chrome extensions' export) wins."""
    cookies = []
    for item in items:
        if not isinstance(item, Mapping):
            continue
        name, value = item.get("name"), item.get("value")
        if not isinstance(name, str) or not isinstance(value, str) or not name:
            continue
        domain = item.get("domain")
        domain = domain if isinstance(domain, str) and domain else None
        cookie_path = item.get("path")
        host_only = item.get("hostOnly")
        if not isinstance(host_only, bool):
            host_only = None if domain is None else not domain.startswith(".")
        cookies.append(ObservedCookie(
            name, value, domain.lstrip(".") if domain else None,
            cookie_path if isinstance(cookie_path, str) and cookie_path.startswith("/") else "/",
            host_only))
    if not cookies:
        raise SourceError(f"{label}: no cookies found in the cookie list")
    return Observation(tuple(cookies), header_order=False, source=f"cookie export ({label})",
                       host=host, path=path)


def _from_har(
    entries: list[Any], *, label: str, host: str | None, path: str | None,
    prefixes: Sequence[str],
) -> Observation:
    """One request of a HAR: the one that carried the most auth cookies (the worst state the
    recording shows), the latest on a tie; ``host``/``path`` narrow the choice first."""
    candidates: list[tuple[int, int, int, str, str, str]] = []
    with_cookies = 0
    for index, entry in enumerate(entries):
        request = entry.get("request") if isinstance(entry, Mapping) else None
        if not isinstance(request, Mapping):
            continue
        url = request.get("url")
        header = _har_cookie_header(request)
        if not isinstance(url, str) or not header:
            continue
        with_cookies += 1
        parts = urlsplit(url)
        if host is not None and (parts.hostname or "") != host.split(":")[0].lower():
            continue
        if path is not None and (parts.path or "/") != path:
            continue
        auth = sum(1 for c in parse_cookie_header(header) if family_of(c.name, prefixes))
        method = request.get("method")
        candidates.append((auth, len(header), index, header, url,
                           method if isinstance(method, str) else "GET"))
    if not with_cookies:
        raise SourceError(f"{label}: the HAR has no request with cookies (Chrome strips them "
                          "unless you export 'with sensitive data')")
    if not candidates:
        raise SourceError(f"{label}: no request in the HAR matches --host/--path")
    auth, _, index, header, url, method = max(candidates)
    parts = urlsplit(url)
    carrying = sum(1 for c in candidates if c[0])
    source = (f"HAR {label}: {method} {url} (entry {index + 1} of {len(entries)}; "
              f"{carrying} requests carried auth cookies)")
    cookies = _header_cookies(header)
    return Observation(cookies, header_order=True, source=source, host=parts.netloc or host,
                       path=parts.path or "/", raw_header=header)


def _header_cookies(header: str) -> tuple[ObservedCookie, ...]:
    """A Cookie header's pairs in sending order; names and values are all it tells."""
    return tuple(ObservedCookie(c.name, c.value) for c in parse_cookie_header(header))


def _har_cookie_header(request: Mapping[str, Any]) -> str:
    """The request's Cookie header(s), joined with "; " (HTTP/2 may split them); the HAR's
    parsed ``cookies`` list only when no header was recorded."""
    headers = request.get("headers")
    values = [h.get("value") for h in headers if isinstance(h, Mapping)
              and str(h.get("name", "")).lower() == "cookie"] if isinstance(headers, list) else []
    joined = "; ".join(v for v in values if isinstance(v, str) and v)
    if joined:
        return joined
    cookies = request.get("cookies")
    if not isinstance(cookies, list):
        return ""
    return "; ".join(f"{c['name']}={c['value']}" for c in cookies if isinstance(c, Mapping)
                     and isinstance(c.get("name"), str) and isinstance(c.get("value"), str))
