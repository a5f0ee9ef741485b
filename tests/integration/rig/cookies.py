"""Our cookie names, built by hand rather than with ssrauth's own AmplifyKeys, and what a jar or
a response's Set-Cookie lines hold."""

from __future__ import annotations

import httpx

from tests.browser_jar import BrowserJar, StoredCookie

PREFIX = "CognitoIdentityServiceProvider"
#: What sign-in writes (Amplify's TokenStore fields plus LastAuthUser).
SIGN_IN_FIELDS = ("accessToken", "idToken", "refreshToken", "clockDrift", "signInDetails")


def cookie_name(client_id: str, username: str, field: str) -> str:
    """Amplify's name for a user's field; js-cookie encodes ``@`` as ``%40`` (our users need no
    other escape)."""
    return f"{PREFIX}.{client_id}.{username.replace('@', '%40')}.{field}"


def last_auth_user(client_id: str) -> str:
    return f"{PREFIX}.{client_id}.LastAuthUser"


def session_names(client_id: str, username: str) -> list[str]:
    """Every name a sign-in writes for ``username``."""
    return [last_auth_user(client_id)] + [
        cookie_name(client_id, username, field) for field in SIGN_IN_FIELDS
    ]


def auth_cookies(jar: BrowserJar, client_id: str) -> list[StoredCookie]:
    """Cookies of our client id's family, in either name spelling (the prefix has nothing to
    encode, so both spellings start with it)."""
    return [c for c in jar.cookies if c.name.startswith(f"{PREFIX}.{client_id}.")]


def value_of(jar: BrowserJar, name: str) -> str:
    """The single copy's value; fails if the browser holds none or several."""
    copies = jar.copies(name)
    assert len(copies) == 1, f"{name}: {len(copies)} copies {[(c.path, c.domain) for c in copies]}"
    return copies[0].value


def jar_state(jar: BrowserJar) -> list[tuple[str, str, str, bool, str]]:
    """Everything the browser holds, comparable before and after a request."""
    return sorted((c.name, c.value, c.domain, c.host_only, c.path) for c in jar.cookies)


def set_cookies(response: httpx.Response) -> list[str]:
    return response.headers.get_list("set-cookie")


def attributes(line: str) -> dict[str, str]:
    """A Set-Cookie line's attributes, lower-cased names (``Secure`` → ``{"secure": ""}``)."""
    pairs = (part.strip().partition("=") for part in line.split(";")[1:])
    return {key.lower(): value for key, _, value in pairs}


def lines_named(lines: list[str], name: str) -> list[str]:
    return [line for line in lines if line.split("=", 1)[0].strip() == name]


def written_value(lines: list[str], name: str) -> str:
    """The value of the one Set-Cookie line that writes ``name`` (deletions carry Max-Age=0)."""
    writes = [line.split(";")[0].split("=", 1)[1] for line in lines_named(lines, name)
              if "Max-Age=0" not in line]
    assert len(writes) == 1, f"{name}: {len(writes)} writes in {lines}"
    return writes[0]


def writes_auth_cookie(lines: list[str], client_id: str) -> bool:
    """Whether any line sets (not deletes) one of our client's cookies."""
    return any(line.startswith(f"{PREFIX}.{client_id}.") and "Max-Age=0" not in line
               for line in lines)
