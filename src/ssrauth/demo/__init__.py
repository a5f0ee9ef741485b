"""A browser demo of ssrauth against the embedded Cognito emulator (``python -m ssrauth.demo``).

It exists so a person can watch, in a real browser, what the tests assert: one refresh however
many requests arrive together, and a cookie jar that heals itself. Needs the ``demo`` extra.
"""

from .app import create_app

__all__ = ["create_app"]
