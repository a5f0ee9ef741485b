"""Sealing refresh outcomes for a shared store: only a request holding the old refresh token can
read what its refresh produced.

The store key is SHA-256 of the token; the AES-256-GCM key is HKDF-SHA256 of the same token with
a label of its own, so neither can be computed from the other, and the store (a file other users
may read, a Redis shared by services) never holds a token it could replay. The store key is the
associated data: a sealed outcome moved under another key does not open.
"""

from __future__ import annotations

import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .._core.errors import ProviderRejected, ProviderUnavailable
from .._core.tokens import TokenSet
from .coordinator import Refreshed, RefreshSource

__all__ = ["open_outcome", "seal_outcome"]

_INFO = b"ssrauth shared refresh outcome v1"
_NONCE = 12


def _cipher(refresh_token: str) -> AESGCM:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
        refresh_token.encode()
    )
    return AESGCM(key)


def seal_outcome(refresh_token: str, key: bytes, outcome: Refreshed | ProviderRejected) -> bytes:
    payload: dict[str, Any]
    if isinstance(outcome, ProviderRejected):
        payload = {"code": outcome.code, "message": outcome.message}
    else:
        tokens = outcome.tokens
        payload = {"access": tokens.access_token, "id": tokens.id_token,
                   "refresh": tokens.refresh_token, "expires_in": tokens.expires_in,
                   "received_at": outcome.received_at}
    nonce = os.urandom(_NONCE)
    plain = json.dumps(payload, separators=(",", ":")).encode()
    return nonce + _cipher(refresh_token).encrypt(nonce, plain, key)


def open_outcome(refresh_token: str, key: bytes, sealed: bytes) -> Refreshed | ProviderRejected:
    """The stored outcome (tokens as a GRACE result, or the provider's "no").

    Raises :class:`ProviderUnavailable` when it does not open: a corrupted or foreign entry says
    nothing about the session, so it must not end it.
    """
    try:
        plain = _cipher(refresh_token).decrypt(sealed[:_NONCE], sealed[_NONCE:], key)
        payload = json.loads(plain)
        if "access" not in payload:
            return ProviderRejected(payload["message"], payload["code"])
        tokens = TokenSet(payload["access"], payload["id"], payload["refresh"],
                          payload.get("expires_in"))
        return Refreshed(tokens, RefreshSource.GRACE, float(payload["received_at"]))
    except (InvalidTag, ValueError, KeyError, TypeError):
        raise ProviderUnavailable("a stored refresh result could not be opened") from None
