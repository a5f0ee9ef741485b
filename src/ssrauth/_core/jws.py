"""The JWS compact serialisation, read strictly before any library sees a token. Pure (no I/O).

A JWT in a cookie is ``BASE64URL(header) . BASE64URL(payload) . BASE64URL(signature)``
(RFC 7515 §7.1, RFC 7519 §7.2). Every library decodes that leniently in some version: padding
``=`` accepted, characters outside the alphabet silently dropped (PyJWT 2.8.0 accepted a
signature with characters inserted), duplicate JSON members resolved "last one wins". Each
leniency gives one token several spellings, or one spelling several readings, and a verifier
that caches by token digest or compares claims must see exactly one. So this module accepts one
spelling only, whatever PyJWT version is installed, and hands the library nothing but bytes:

* exactly three segments (a JWE has five); an empty signature (``alg: none``) is read, and
  then never matches a key;
* each segment canonical base64url (RFC 7515 §2): only ``A-Z a-z 0-9 - _``, no padding, no
  whitespace, no line breaks, and zero trailing bits (RFC 4648 §3.5: decoding then encoding
  gives the segment back);
* header and payload UTF-8 JSON objects (RFC 7515 §4, RFC 7519 §7.2 step 10) without
  duplicate member names: RFC 7515 §4 and RFC 7519 §4 let a recipient reject them or take the
  last, and we reject; no ``NaN``/``Infinity`` and no number that overflows a double (1e400),
  which RFC 8259 §6 leaves to the implementation;
* at most :data:`MAX_TOKEN_LENGTH` characters, checked before anything is decoded.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .tokens import InvalidToken

__all__ = ["MAX_TOKEN_LENGTH", "CompactJws", "read_compact"]

#: No browser keeps a cookie over 4096 bytes (RFC 6265 §6.1), so a token from a Cookie header is
#: far below this; a provider's own answer (never stored whole in one cookie) may be bigger, and
#: Cognito id tokens with many groups reach ~10 KiB. 16 KiB bounds the work a made-up token
#: costs (a 1 MB "token" is refused before a byte of it is decoded).
MAX_TOKEN_LENGTH = 16 * 1024

#: RFC 4648 §5, the URL- and filename-safe alphabet, without the pad character (RFC 7515 §2).
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


@dataclass(frozen=True, slots=True)
class CompactJws:
    """A token split and decoded; nothing in it is verified yet."""

    header: Mapping[str, Any]
    claims: Mapping[str, Any]
    #: ``ASCII(BASE64URL(header) . BASE64URL(payload))``, what the signature covers (§5.2).
    signing_input: bytes
    signature: bytes


def read_compact(token: str) -> CompactJws:
    """Split and decode ``token`` by the rules of the module docstring, or raise
    :class:`InvalidToken` (never anything else; the reason never quotes the token)."""
    if len(token) > MAX_TOKEN_LENGTH:
        raise InvalidToken(f"token longer than {MAX_TOKEN_LENGTH} characters")
    segments = token.split(".")
    if len(segments) != 3:
        raise InvalidToken("not a JWS compact serialisation: it has three segments")
    header_segment, payload_segment, signature_segment = segments
    header = _json_object(_decode(header_segment, "header"), "header")
    claims = _json_object(_decode(payload_segment, "payload"), "payload")
    return CompactJws(header, claims, f"{header_segment}.{payload_segment}".encode("ascii"),
                      _decode(signature_segment, "signature"))


def _decode(segment: str, what: str) -> bytes:
    """One segment's bytes, if ``segment`` is their one canonical base64url spelling."""
    # A length of 4n+1 characters encodes no whole byte count (RFC 4648 §4).
    if not _BASE64URL.fullmatch(segment) or len(segment) % 4 == 1:
        raise InvalidToken(f"{what} is not base64url without padding (RFC 7515 §2)")
    data = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    if base64.urlsafe_b64encode(data).rstrip(b"=") != segment.encode("ascii"):
        raise InvalidToken(f"{what} has non-zero trailing bits (RFC 4648 §3.5)")
    return data


class _NotStrictJson(ValueError):
    """JSON that Python would read but a strict reader must not."""


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members: dict[str, Any] = {}
    for name, value in pairs:
        if name in members:
            raise _NotStrictJson(f"duplicate member {name[:40]!r}")
        members[name] = value
    return members


def _no_constant(name: str) -> Any:
    raise _NotStrictJson(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotStrictJson("a number beyond a double's range")
    return value


def _json_object(data: bytes, what: str) -> Mapping[str, Any]:
    try:
        value = json.loads(data.decode("utf-8"), object_pairs_hook=_unique_members,
                           parse_constant=_no_constant, parse_float=_finite)
    except _NotStrictJson as error:
        raise InvalidToken(f"{what} JSON refused: {error}") from None
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise InvalidToken(f"{what} is not UTF-8 JSON") from None
    if not isinstance(value, dict):
        raise InvalidToken(f"{what} is not a JSON object")
    return value
