"""Random browser jars full of duplicate copies of the auth cookies (paths, Domain variants, name
spellings, stale users, another client's session, an unrelated cookie), drawn by hypothesis, for
the plan-in-browser properties and the audit's agreement with the server."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field

from hypothesis import strategies as st

from ssrauth._core.cookies import CookiePolicy, SetCookie, encode_value
from ssrauth._core.plan import MAX_PATH_DEPTH, RequestTarget, configured_domains, hostname
from ssrauth._core.session import SessionRules
from tests.browser_jar import BrowserJar, path_matches
from tests.unit.factory import (
    KEYS,
    KID,
    NOW,
    OTHER_KEYS,
    SIGN_IN_DETAILS,
    Minter,
    amplify_cookies,
    minter,
    pool_key,
    rules,
)

USERS = ("alice", "a@b.com")
STALE_USER = "bob"
PARENT_DOMAIN = "example.com"
#: Never a segment of a generated request path, so copies there are invisible to the request.
HIDDEN_PATH = "/zzz"


@functools.cache
def field_values(username: str) -> dict[str, tuple[str, ...]]:
    """Plausible values for each field of one user: tokens fresh, older, expired, forged, junk."""
    genuine, forger = minter(), Minter(pool_key(KID, seed=1))  # same kid, another key

    def tokens(use: str) -> tuple[str, ...]:
        issued = (NOW - 60, NOW - 1800, NOW - 7200)  # fresh, older, expired an hour ago
        return (*(genuine.sign(genuine.claims(use, username, iat=iat)) for iat in issued),
                forger.sign(forger.claims(use, username, iat=NOW - 30)), "not-a-jwt")

    values = {"accessToken": tokens("access"), "idToken": tokens("id")}
    values["refreshToken"] = (f"refresh-{username}-1", f"refresh-{username}-2")
    values["clockDrift"] = ("0", "-1500", "junk")
    values["signInDetails"] = (encode_value(SIGN_IN_DETAILS),)
    values["deviceKey"] = (f"{username}-device-1", f"{username}-device-2")
    return values


@dataclass
class Scenario:
    jar: BrowserJar
    target: RequestTarget
    policy: CookiePolicy
    username: str
    #: Canonical names that also have a copy on HIDDEN_PATH, which this request cannot see.
    hidden_names: set[str] = field(default_factory=set)

    @property
    def path(self) -> str:
        return self.target.path

    def header(self) -> str:
        return self.jar.cookie_header(self.path)

    def rules(self) -> SessionRules:
        return rules(self.policy)

    def __repr__(self) -> str:
        # Hypothesis prints this for a failing example: show the jar, not an object address.
        cookies = "\n".join(
            f"    {c.name} = {c.value[:16]}  path={c.path} domain={c.domain}"
            f"{' host-only' if c.host_only else ''}" for c in self.jar.cookies)
        return (f"Scenario(path={self.path!r}, host={self.target.host!r}, policy={self.policy},"
                f" username={self.username!r}, jar=\n{cookies})")


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    hostname = draw(st.sampled_from(["app.example.com", "127.0.0.1"]))
    port = draw(st.sampled_from(["", ":8443"]))
    if hostname[0].isdigit():
        policy = CookiePolicy()
        domains: list[str | None] = [None, hostname]  # the jar files Domain=<ip> as host-only
    else:
        policy = draw(st.sampled_from([
            CookiePolicy(),
            CookiePolicy(domain=PARENT_DOMAIN),
            CookiePolicy(extra_domains=(PARENT_DOMAIN,)),  # an older deployment's Domain
        ]))
        # The spellings ssrauth answers for: host-only, the host's own, the configured ones
        # (a copy under a parent domain nobody configured is the audit's to report).
        domains = [None, hostname, *configured_domains(policy)]
    segments = draw(st.lists(st.sampled_from(["app", "a", "b", "x1"]), max_size=MAX_PATH_DEPTH))
    trailing = draw(st.booleans()) and bool(segments)
    path = "/" + "/".join(segments) + ("/" if trailing else "")
    # Every path a cookie visible on this request can have, from the test browser's path-match.
    visible_paths = sorted(
        {p for p in (path[:i] for i in range(1, len(path) + 1)) if path_matches(path, p)}
    )
    jar = BrowserJar(hostname)
    username = draw(st.sampled_from(USERS))

    def seed(name_for: str, field_name: str, count: int, *, encoded: bool = True) -> None:
        for _ in range(count):
            spelled = KEYS.name(name_for, field_name)
            if not draw(st.booleans()) or not encoded:
                # Writers that skip name encoding (adapter-nextjs < 1.7.0) leave a raw "@".
                spelled = spelled.replace("%40", "@")
            jar.seed(spelled, draw(st.sampled_from(field_values(name_for)[field_name])),
                     path=draw(st.sampled_from(visible_paths)),
                     domain=draw(st.sampled_from(domains)))

    for field_name in ("accessToken", "idToken", "refreshToken", "clockDrift", "signInDetails",
                       "deviceKey"):
        seed(username, field_name, draw(st.integers(0, 3)))
    for field_name in ("accessToken", "refreshToken", "deviceKey"):
        seed(STALE_USER, field_name, draw(st.integers(0, 2)))
    for _ in range(draw(st.integers(0, 2))):
        jar.seed(KEYS.last_auth_user_name, draw(st.sampled_from([username, STALE_USER])),
                 path=draw(st.sampled_from(visible_paths)), domain=draw(st.sampled_from(domains)))
    # Another app client's session and an unrelated cookie: never ours to touch.
    for name, value in amplify_cookies(username, access="theirs", refresh="theirs",
                                       keys=OTHER_KEYS):
        jar.seed(name, value, path=draw(st.sampled_from(visible_paths)))
    jar.seed("_ga", "GA1.2.3", path="/")
    scenario = Scenario(jar, RequestTarget(path, hostname + port), policy, username)
    if draw(st.booleans()):
        hidden = KEYS.name(username, "accessToken")
        jar.seed(hidden, field_values(username)["accessToken"][0], path=HIDDEN_PATH)
        scenario.hidden_names.add(hidden)
    return scenario



#: A stored cookie's identity (RFC 6265bis §5.7 step 23): name, domain, host-only flag, path.
Identity = tuple[str, str, bool, str]
#: Signed tokens: of two copies the next request keeps the freshest that verifies.
TOKEN_FIELDS = ("accessToken", "idToken")


def written_names(plan: Iterable[SetCookie]) -> set[str]:
    return {cookie.name for cookie in plan if cookie.value is not None}


def documented_leftovers(scenario: Scenario, written: Iterable[str]) -> set[Identity]:
    """The one exception to "one copy of each auth cookie after any response", as
    ``PlanBuilder.write`` and docs/cookies.md ("Limits") state it: a token (access or id) the
    response rewrites (``written``), sent once, whose one copy is under the host's own
    ``Domain=<host>`` (not a configured domain) on a path other than ``/`` (a writer that sets
    a Domain but no Path). That copy stays as it was beside the one written; the next request
    sends the name twice, keeps the freshest token (the one written) and deletes the other.
    The identities of those copies."""
    host = hostname(scenario.target.host)
    if host in configured_domains(scenario.policy):
        return set()
    sent = scenario.jar.visible(scenario.path)
    leftovers = set()
    for name in written:
        parsed = KEYS.classify(name)
        if parsed is None or parsed.field not in TOKEN_FIELDS:
            continue
        copies = [c for c in sent if c.name == name]
        if len(copies) == 1 and not copies[0].host_only and copies[0].domain == host \
                and copies[0].path != "/":
            leftovers.add(copies[0].identity)
    return leftovers
