"""A request's cookie header, path and host from a CGI-style mapping: a WSGI environ, or
Django's ``request.META`` (which follows it under both of Django's handlers)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

__all__ = ["cookie_header", "host", "url_path"]

#: What a browser leaves unescaped in a URL path besides letters, digits and ``-._~``; it escapes
#: space, ``" # % < > ? ` { }``, controls and non-ASCII bytes.
_PATH_SAFE = "/!$&'()*+,;=:@[]|^"


def cookie_header(environ: Mapping[str, Any]) -> str:
    """The Cookie header, every pair kept (duplicates are what ssrauth exists to see).

    WSGI servers (werkzeug, gunicorn) and Django's ASGI handler join repeated headers with ``,``
    (HTTP/2 and HTTP/3 may split cookies over several, RFC 9113 §8.2.3). A ``,`` never occurs in
    Amplify's names or values (js-cookie escapes it), so reading it as a pair separator costs our
    cookies nothing; another app's cookie it splits is only read, never written.
    """
    header = str(environ.get("HTTP_COOKIE", ""))
    return header.replace(",", ";") if "," in header else header


def host(environ: Mapping[str, Any]) -> str:
    """The Host header, else the server's name (HTTP/1.0 clients send no Host)."""
    return str(environ.get("HTTP_HOST") or environ.get("SERVER_NAME", ""))


def url_path(path: bytes) -> str:
    """The path as the browser sent it, percent-escapes and all, from its decoded bytes.

    Servers decode the path; browsers path-match cookies (and Set-Cookie's default path) against
    it escaped, so a deletion must name ``/caf%C3%A9``, never the decoded text.
    """
    return quote(path, safe=_PATH_SAFE) or "/"
