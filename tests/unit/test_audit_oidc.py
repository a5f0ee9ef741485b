"""The audit on ssrauth's OpenID Connect cookie families, with plain values: id tokens from the
rules tests' keys, opaque access tokens, Cookie headers built by hand, no network.

What it must guarantee: an ``ssrauth.<clientId>.*`` family is read by the OIDC rules (the id
token picks the winner, ``expiresAt`` dates the opaque access token, which is "opaque" and no
problem), a forged id token fails against the JWKS, the heal lines are exactly the plan of a
server configured with that ``OidcConfig``, and in a mixed jar each family is judged on its own
while unrelated cookies are never touched."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from ssrauth import ManualClock, SessionManager
from ssrauth._audit.analysis import AUTH_PREFIXES, AuditReport, FamilyReport, PoolKeys, audit
from ssrauth._audit.sources import read_source
from ssrauth._config.oidc import OidcConfig
from ssrauth._config.scheme import scheme_of
from ssrauth._core.cookies import render_set_cookie
from ssrauth._core.plan import RequestTarget
from ssrauth._core.session import SessionRules
from ssrauth._providers.jwks import verification
from tests.unit.factory import HOST, signed_in_header
from tests.unit.oidc_factory import CLIENT, ISSUER, JWKS, NOW, id_token

CONFIG = OidcConfig(issuer=ISSUER, client_id=CLIENT)
FAMILY = f"ssrauth.{CLIENT}"


def oidc_pairs(sub: str = "alice", *, token: str | None = None, access: str = "opaque-at",
               refresh: str | None = "rt", expires_at: int = NOW + 300,
               prefix: str = "ssrauth") -> list[tuple[str, str]]:
    """One sub's session as an OIDC-configured ssrauth writes it."""
    base = f"{prefix}.{CLIENT}"
    pairs = [(f"{base}.LastAuthUser", sub),
             (f"{base}.{sub}.idToken", token or id_token(sub=sub, iat=NOW - 60)),
             (f"{base}.{sub}.accessToken", access),
             (f"{base}.{sub}.clockDrift", "0"),
             (f"{base}.{sub}.expiresAt", str(expires_at))]
    if refresh is not None:
        pairs.append((f"{base}.{sub}.refreshToken", refresh))
    return pairs


def header_of(*groups: list[tuple[str, str]]) -> str:
    return "; ".join(f"{n}={v}" for group in groups for n, v in group)


def run(header: str, *, pool: PoolKeys | None = None, path: str = "/",
        prefixes: tuple[str, ...] = AUTH_PREFIXES) -> AuditReport:
    observation = read_source(header, label="test", host=HOST, path=path, prefixes=prefixes)
    return audit(observation, now=NOW, pools=() if pool is None else (pool,),
                 prefixes=prefixes)


def provider_keys() -> PoolKeys:
    """What the CLI builds for ``--oidc-issuer ISSUER --client-id CLIENT``, with the rules
    tests' key set in place of a fetched one."""
    scheme = scheme_of(CONFIG)
    verifier, _ = verification(CONFIG, scheme, _NoDiscovery(), clock=ManualClock(NOW))
    return PoolKeys(scheme, verifier, JWKS)


class _NoDiscovery:
    """A JWKS locator that is never asked: the tests hand the key set in."""

    def jwks_uri(self) -> str:
        raise AssertionError("no discovery in unit tests")

    async def ajwks_uri(self) -> str:
        raise AssertionError("no discovery in unit tests")


def server_heal(header: str, path: str = "/") -> tuple[str, ...]:
    """The Set-Cookie lines a SessionManager configured with CONFIG would send."""
    pool = provider_keys()
    rules = SessionRules(keys=pool.scheme.keys, verifier=pool.verifier,
                         policy=CONFIG.cookie_policy)
    decision = rules.decide(header, RequestTarget(path, HOST), JWKS, NOW)
    return tuple(render_set_cookie(c, CONFIG.cookie_policy) for c in decision.plan)


def statuses(family: FamilyReport) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for copy in family.copies:
        if copy.token is not None:
            found.setdefault(copy.field, set()).add(copy.token.status)
    return found


def codes(report: AuditReport, level: str = "problem") -> list[str]:
    return [f.code for f in report.findings if f.level == level]


def test_a_fresh_oidc_session_is_read_by_the_oidc_rules_and_healthy() -> None:
    report = run(header_of(oidc_pairs()))

    assert report.healthy, report.findings
    [family] = report.families
    assert (family.prefix, family.provider, family.client_id) == ("ssrauth", "oidc", CLIENT)
    assert (family.user, family.state, family.heal) == ("alice", "authenticated", ())
    # The opaque access token is what it is, not an unreadable JWT.
    assert statuses(family) == {"idToken": {"valid"}, "accessToken": {"opaque"}}


def test_duplicate_id_tokens_across_paths_keep_the_freshest_and_heal_like_the_server() -> None:
    older, fresher = id_token(iat=NOW - 1800), id_token(iat=NOW - 60)
    # The /orders copy (fresher) is sent first, as a browser sorts longer paths first.
    header = header_of([(f"{FAMILY}.alice.idToken", fresher)], oidc_pairs(token=older))

    report = run(header, path="/orders/42")

    [family] = report.families
    [dup] = family.duplicates
    assert (dup.username, dup.field, dup.copies) == ("alice", "idToken", (0, 2))
    assert (dup.browser, dup.last, dup.server) == (0, 2, 0)
    assert dup.server_rule == "the freshest readable copy (unverified: no pool or provider config)"
    assert family.heal == server_heal(header, "/orders/42")
    assert any(line.startswith(f"{FAMILY}.alice.idToken={fresher};") for line in family.heal)
    assert "duplicate" in codes(report)


def test_duplicate_opaque_access_tokens_keep_the_copy_next_to_the_winning_id_token() -> None:
    header = header_of([(f"{FAMILY}.alice.accessToken", "stray")], oidc_pairs())

    report = run(header)

    [dup] = report.families[0].duplicates
    assert dup.field == "accessToken"
    assert dup.server_rule == "the copy sent nearest the winning id token"
    assert dup.server == 3  # "opaque-at", written with the id token at position 2
    assert report.families[0].heal == server_heal(header)


def test_a_stale_subs_family_is_deleted_with_its_expires_at() -> None:
    bob = [(n, v) for n, v in oidc_pairs("bob") if not n.endswith("LastAuthUser")]
    header = header_of(oidc_pairs(), bob)

    report = run(header)

    [family] = report.families
    assert family.user == "alice"
    assert family.stale_users == ("bob",)
    deleted = {line.split("=", 1)[0] for line in family.heal if "Max-Age=0" in line}
    assert f"{FAMILY}.bob.expiresAt" in deleted  # an OIDC-only session field
    assert f"{FAMILY}.bob.idToken" in deleted
    assert not any(".alice." in line for line in family.heal)
    assert family.heal == server_heal(header)


def test_an_expired_expires_at_needs_a_refresh_and_without_a_refresh_token_is_cleared() -> None:
    refreshable = run(header_of(oidc_pairs(expires_at=NOW - 10)))

    [family] = refreshable.families
    assert family.state == "needs_refresh"
    assert refreshable.healthy  # the server refreshes it on the next request
    assert "token-expired" in codes(refreshable, "warning")

    header = header_of(oidc_pairs(expires_at=NOW - 10, refresh=None))
    dead = run(header)

    [family] = dead.families
    assert family.state == "anonymous"
    assert "session-unusable" in codes(dead)
    assert family.heal == server_heal(header)
    assert all("Max-Age=0" in line for line in family.heal)


def test_a_forged_id_token_fails_against_the_jwks_and_the_genuine_copy_wins() -> None:
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = id_token(key=other_key, iat=NOW - 5)  # our kid, fresher, wrong key
    genuine = id_token(iat=NOW - 600)
    header = header_of([(f"{FAMILY}.alice.idToken", forged)], oidc_pairs(token=genuine))

    offline = run(header)
    verified = run(header, pool=provider_keys())

    # Offline the forgery reads as the freshest copy; only the keys tell it apart.
    assert offline.families[0].duplicates[0].server == 0
    family = verified.families[0]
    assert family.verified
    assert family.copies[0].token is not None
    assert family.copies[0].token.status == "invalid"
    assert family.duplicates[0].server == 2
    assert family.duplicates[0].server_rule == "the freshest verified copy"
    assert "token-invalid" in codes(verified)
    assert family.heal == server_heal(header)
    assert any(line.startswith(f"{FAMILY}.alice.idToken={genuine};") for line in family.heal)


def test_an_id_token_of_another_client_is_unreadable_offline() -> None:
    report = run(header_of(oidc_pairs(token=id_token(aud="another-app"))))

    assert statuses(report.families[0])["idToken"] == {"unreadable"}
    assert "token-unreadable" in codes(report)


def test_a_custom_prefix_is_found_only_when_asked_for() -> None:
    header = header_of(oidc_pairs(prefix="myapp"))

    assert run(header).families == ()
    [family] = run(header, prefixes=(*AUTH_PREFIXES, "myapp")).families
    assert (family.prefix, family.provider, family.state) == ("myapp", "oidc", "authenticated")


@pytest.mark.parametrize("verified", [False, True])
def test_a_mixed_jar_judges_each_family_alone_and_never_touches_other_cookies(
    verified: bool,
) -> None:
    stray = (f"{FAMILY}.alice.idToken", id_token(iat=NOW - 1800))
    cognito = signed_in_header("alice")
    header = "; ".join(["_ga=GA1.2.3", cognito, header_of([stray], oidc_pairs()),
                        "theme=dark", "ssrauth=not-a-family"])

    report = run(header, pool=provider_keys() if verified else None)

    cognito_family, oidc_family = report.families
    assert (cognito_family.provider, oidc_family.provider) == ("cognito", "oidc")
    assert oidc_family.verified is verified
    assert not cognito_family.verified
    assert (cognito_family.state, oidc_family.state) == ("authenticated", "authenticated")
    assert cognito_family.heal == ()
    assert oidc_family.heal == server_heal(header)
    assert oidc_family.heal
    assert all(line.startswith(FAMILY + ".") for line in oidc_family.heal)
    assert report.unrelated == 3
    duplicates = [f.client_id for f in report.findings if f.code == "duplicate"]
    assert duplicates == [CLIENT]


def test_the_manager_and_the_audit_share_one_scheme() -> None:
    """The keys and rules the audit verifies with are the ones SessionManager builds."""
    dotted = OidcConfig(issuer=ISSUER, client_id="x.apps.example", audience="api",
                        cookie_prefix="myapp")
    manager = SessionManager(dotted)
    scheme = scheme_of(dotted)

    assert manager.keys.prefix == scheme.keys.prefix == "myapp.x_apps_example."
    assert manager.keys.session_fields == scheme.keys.session_fields
    assert manager.rules.verifier.rules == scheme.rules
    assert manager.jwks.accepted == scheme.rules.algorithms
    assert scheme.is_oidc
