"""The grammar every Set-Cookie line ssrauth writes must match (RFC 6265 §4.1.1, as rendered by
``render_set_cookie``): the oracle of the plan's property tests and of ``bench.fuzz``."""

from __future__ import annotations

import re

__all__ = ["WELL_FORMED"]

#: A Set-Cookie line as ssrauth renders one: name=value, then Path, optional Domain, attributes;
#: no control character, no ";" inside a name, value, path or domain.
WELL_FORMED = re.compile(
    r"[\x21-\x3a\x3c\x3e-\x7e\x80-\xff](?:[\x20-\x3a\x3c\x3e-\x7e\x80-\xff]*"
    r"[\x21-\x3a\x3c\x3e-\x7e\x80-\xff])?=[\x20-\x3a\x3c-\x7e\x80-\xff]*"
    r"; Path=/[\x20-\x3a\x3c-\x7e]*"
    r"(?:; Domain=[a-z0-9_.-]+)?"
    r"(?:; Max-Age=\d+)(?:; Secure)?(?:; HttpOnly)?(?:; SameSite=(?:Lax|Strict|None))?"
)
