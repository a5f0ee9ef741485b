"""Whether the browser will keep the cookies the policy writes on the origin an app is served from.

The most common first-day failure: ``CookiePolicy()`` writes ``Secure`` cookies (Amplify's
default), the app is served over plain ``http://`` on a LAN address or a container's host name,
and the browser silently drops every auth cookie. Sign-in "succeeds" and the next page is
anonymous, with no error anywhere. RFC 6265bis §5.7 (storage model): a user agent ignores a
cookie with the ``Secure`` attribute unless the request came over a secure channel, where
Chromium and Firefox count the *potentially trustworthy* origins of W3C Secure Contexts §3.1
(``localhost``, ``*.localhost``, ``127.0.0.0/8``, ``::1``) as secure even over http.

Pure: an app (or an adapter, at its first request) passes the scheme and host it is reached at
and logs the answer.
"""

from __future__ import annotations

import ipaddress

from .cookies import CookiePolicy

__all__ = ["forwarded_scheme", "insecure_origin_warning"]


def insecure_origin_warning(policy: CookiePolicy, scheme: str, host: str) -> str | None:
    """A warning to log when ``policy``'s cookies would be dropped at ``scheme://host``, else None.

    >>> insecure_origin_warning(CookiePolicy(), "https", "app.example.com") is None
    True
    >>> insecure_origin_warning(CookiePolicy(), "http", "localhost:8000") is None
    True
    >>> insecure_origin_warning(CookiePolicy(secure=False), "http", "10.0.0.5") is None
    True
    >>> insecure_origin_warning(CookiePolicy(), "http", "10.0.0.5:8000")[:77]
    'ssrauth writes Secure cookies, but this app is served over plain http://10.0.'

    """
    if not policy.secure or scheme.lower() in ("https", "wss"):
        return None
    name = _host_name(host)
    if _is_loopback(name):
        return None
    return (f"ssrauth writes Secure cookies, but this app is served over plain "
            f"{scheme.lower()}://{host}: browsers drop Secure cookies set over http on any host "
            "but localhost (RFC 6265bis §5.7), so every sign-in will look like it worked and the "
            "next request will be anonymous. Serve it over https, or for local development "
            "only use CookiePolicy(secure=False) or reach it as http://localhost.")


def forwarded_scheme(x_forwarded_proto: str | None, forwarded: str | None) -> str | None:
    """The scheme the browser used, as a TLS-terminating proxy in front of the app reports it
    (``X-Forwarded-Proto``, or RFC 7239 ``Forwarded: proto=``), else None.

    The first value is the one the client-facing proxy wrote (each proxy appends its own). Only
    used to silence the warning above, never to decide anything about a session: a forged
    header costs nothing but a log line that would not have been written.

    >>> forwarded_scheme("https, http", None)
    'https'
    >>> forwarded_scheme(None, 'for=192.0.2.60;proto=HTTPS;by=203.0.113.43, for=10.0.0.1')
    'https'
    >>> forwarded_scheme(None, None) is None
    True
    """
    if x_forwarded_proto:
        return x_forwarded_proto.partition(",")[0].strip().lower() or None
    if forwarded:
        for pair in forwarded.partition(",")[0].split(";"):
            name, _, value = pair.partition("=")
            if name.strip().lower() == "proto":
                return value.strip().strip('"').lower() or None
    return None


def _host_name(host: str) -> str:
    """The host without its port: ``[::1]:8000`` → ``::1``, ``app:80`` → ``app``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    if host.count(":") == 1:
        return host.partition(":")[0]
    return host  # a bare name, or a bare IPv6 address (more than one colon)


def _is_loopback(name: str) -> bool:
    """W3C Secure Contexts §3.1: ``localhost``, names under ``.localhost`` and loopback
    addresses are potentially trustworthy origins."""
    name = name.rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
