"""Integration rig: a real app behind SsrAuthMiddleware, a browser that stores cookies the way
Chromium does, and real network conditions between ssrauth and the moto Cognito API.

Nothing here fakes the provider. Outages are made on the wire: a loopback server in front of the
emulator that refuses, hangs or answers errors (:mod:`.outages`), and an httpx transport that
holds refresh calls on their way to moto until the test lets them go (:mod:`.gates`). Each module
is one family: :mod:`.cookies` (names and what a jar or Set-Cookie lines hold), :mod:`.checks`
(assertions on outcomes), :mod:`.apps` (the applications under test), :mod:`.browsers` (jar
clients in front of ASGI and WSGI apps), :mod:`.seeds` (jars prepared the way bugs leave them),
:mod:`.rotation` (Cognito's refresh-token rotation on top of moto), :mod:`.waiting` (bounded
waits). The fixtures that use them live in ``tests/integration/conftest.py``.
"""
