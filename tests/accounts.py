"""Who signs in during the tests: the password of the users the ``emulator`` fixture creates, and
the host the test apps are reached on."""

from __future__ import annotations

#: Every emulated user's password (moto checks it like Cognito's default policy would).
PASSWORD = "Corr3ct-Horse!battery"
#: The host a test browser asks for: cookies are host-only to it.
HOST = "app.example.com"
