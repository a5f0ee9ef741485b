"""A request's cookie header, path and host from a CGI-style mapping: a WSGI environ, or
Django's ``request.META`` (which follows it under both of Django's handlers)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

__all__ = ["cookie_header", "environ_path", "host", "joined_cookie_lines", "url_path"]

#: What a browser leaves unescaped in a URL path besides letters, digits and ``-._~``; it escapes
#: space, ``" # % < > ? ` { }``, controls and non-ASCII bytes.
_PATH_SAFE = "/!$&'()*+,;=:@[]|^"


def cookie_header(environ: Mapping[str, Any]) -> str:
    """The Cookie header exactly as the server put it in ``HTTP_COOKIE``, every pair kept.

    Nothing is rewritten: a ``,`` may be part of a value (adapter-nextjs writes signInDetails as
    raw JSON). When a client sends two Cookie lines, werkzeug, gunicorn, wsgiref and Django's
    ASGI handler join them with a bare ``,``; the one Cookie-header parser
    (:func:`~ssrauth._core.cookies.cookie_pieces`) tells such a join from a comma in a value.
    """
    return str(environ.get("HTTP_COOKIE", ""))


def joined_cookie_lines(lines: Iterable[bytes]) -> str:
    """Several Cookie header lines (HTTP/2 and HTTP/3 may split one, RFC 9113 §8.2.3) as one
    header, joined with ``"; "`` as the RFC asks; never ``,``, which the parser reads as part of
    a value (``_core.cookies.cookie_pieces``)."""
    return "; ".join(line.decode("latin-1") for line in lines)


def environ_path(environ: Mapping[str, Any]) -> str:
    """The path the browser sent, from ``SCRIPT_NAME`` (where the app is mounted) and
    ``PATH_INFO``, both latin-1 text for the raw bytes (PEP 3333), escaped back as sent."""
    path = str(environ.get("SCRIPT_NAME", "")) + str(environ.get("PATH_INFO", ""))
    try:
        raw = path.encode("latin-1")
    except UnicodeEncodeError:
        raw = path.encode("utf-8")  # a server that decoded UTF-8, against PEP 3333 (httpx's)
    return url_path(raw)


def host(environ: Mapping[str, Any]) -> str:
    """The Host header, else the server's name (HTTP/1.0 clients send no Host)."""
    return str(environ.get("HTTP_HOST") or environ.get("SERVER_NAME", ""))


def url_path(path: bytes) -> str:
    """The path as the browser sent it, percent-escapes and all, from its decoded bytes.

    Servers decode the path; browsers path-match cookies (and Set-Cookie's default path) against
    it escaped, so a deletion must name ``/caf%C3%A9``, never the decoded text.
    """
    return quote(path, safe=_PATH_SAFE) or "/"
