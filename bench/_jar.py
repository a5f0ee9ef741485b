"""The Cookie headers the bench sends: real tokens from the emulator, in a realistic jar.

A browser on an app that uses Amplify sends the six Amplify cookies together with the site's
other cookies (analytics, consent, CSRF, a framework session). The bench measures ssrauth on such
a header (~3.5 KB), not on the Amplify cookies alone, because skipping foreign cookies is part of
the work on every request.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from ssrauth import Clock, CognitoConfig, SessionManager, TokenSet

__all__ = ["GA_LAST_HIT", "Jar", "build_jar", "split_at_last_hit"]

USERNAME = "alice@example.com"
PASSWORD = "Bench-Passw0rd!horse"


def _filler(seed: str, length: int) -> str:
    """Deterministic cookie-safe noise: the same header on every run and machine."""
    out = b""
    block = seed.encode()
    while len(out) < length:
        block = hashlib.sha256(block).digest()
        out += base64.urlsafe_b64encode(block).rstrip(b"=")
    return out[:length].decode()


#: Google Analytics 4 keeps the time of the last hit in its session cookie and rewrites it on page
#: views, so a real browser's Cookie header changes between pages while the session stays the same.
GA_SESSION = "_ga_QX7Z9K2M1P"
GA_LAST_HIT = 1_732_603_600

#: What else a production site typically sets: Google Analytics, Meta pixel, Hotjar, a consent
#: banner, a CSRF token, a framework session, a feature-flag SDK, an A/B test bucket.
_BEFORE = [
    ("_ga", "GA1.1.1234567890.1732600000"),
    (GA_SESSION, f"GS1.1.1732600000.7.1.{GA_LAST_HIT}.0.0.0"),
    ("_gid", "GA1.2.987654321.1732600000"),
    ("_fbp", "fb.1.1732600000000.1029384756"),
    ("csrftoken", _filler("csrf", 64)),
]
_AFTER = [
    ("sessionid", _filler("session", 32)),
    ("cookie_consent", "%7B%22necessary%22%3Atrue%2C%22analytics%22%3Atrue%2C%22marketing%22"
                       "%3Afalse%2C%22version%22%3A3%2C%22ts%22%3A1732600000%7D"),
    ("_hjSessionUser_3512847", _filler("hotjar", 160)),
    ("_hjSession_3512847", _filler("hotjar-session", 120)),
    ("ajs_anonymous_id", "5f0c8a4e-6d1b-4c3a-9e2f-7a8b9c0d1e2f"),
    ("ph_phc_" + _filler("posthog-key", 24) + "_posthog", _filler("posthog", 420)),
    ("ab_bucket", "checkout-v3%3Dtreatment"),
]


@dataclass(frozen=True, slots=True)
class Jar:
    """The headers and tokens every measurement uses."""

    #: Amplify cookies of one signed-in user plus the unrelated cookies: the common case.
    valid: str
    #: The seed bug's state: every auth cookie twice (a refresh written at a sub-path beside the
    #: original at ``/``), newer copies first as browsers order longer paths first.
    duplicate: str
    #: A third sign-in's tokens: what a refresh would hand back.
    fresh_tokens: TokenSet
    username: str


def split_at_last_hit(header: str) -> tuple[str, str]:
    """The header around GA4's last-hit time: ``prefix + str(t) + suffix`` is a later page's."""
    marker = f"{GA_SESSION}=GS1.1.1732600000.7.1."
    start = header.index(marker) + len(marker)
    end = start + len(str(GA_LAST_HIT))
    assert header[start:end] == str(GA_LAST_HIT)
    return header[:start], header[end:]


def _pairs(lines: list[str]) -> list[tuple[str, str]]:
    pairs = []
    for line in lines:
        name, _, value = line.split(";", 1)[0].partition("=")
        pairs.append((name, value))
    return pairs


def _header(pairs: list[tuple[str, str]]) -> str:
    return "; ".join(f"{name}={value}" for name, value in pairs)


async def _sign_in(manager: SessionManager) -> tuple[list[tuple[str, str]], TokenSet]:
    auth = await manager.aload("", "/", "127.0.0.1")
    await auth.asign_in(USERNAME, PASSWORD)
    assert auth.outcome.tokens is not None
    return _pairs(auth.set_cookie_headers()), auth.outcome.tokens


async def build_jar(config: CognitoConfig) -> Jar:
    """Sign in three times through the emulator and assemble the headers."""
    manager = SessionManager(config)
    older, _ = await _sign_in(manager)
    newer, _ = await _sign_in(manager)
    _, fresh = await _sign_in(manager)
    valid = _header(_BEFORE + newer + _AFTER)
    duplicate = _header(_BEFORE + newer + older + _AFTER)
    return Jar(valid=valid, duplicate=duplicate, fresh_tokens=fresh, username=USERNAME)


async def signed_in_header(config: CognitoConfig, clock: Clock) -> str:
    """One sign-in's Cookie header among the unrelated cookies, on ``clock`` (the storm bench
    signs in on the emulator's clock, so that ``clockDrift`` is 0 there)."""
    pairs, _ = await _sign_in(SessionManager(config, clock=clock))
    return _header(_BEFORE + pairs + _AFTER)


def filler_cookies() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The unrelated cookies a production site sets, before and after ours (copies)."""
    return list(_BEFORE), list(_AFTER)
