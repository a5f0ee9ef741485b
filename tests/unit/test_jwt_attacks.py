"""The JWT attack suite: every known way to forge, bend or re-spell a token, against the Cognito
rules and the OpenID Connect rules alike, through the verifier and the decision core.

For each attack: the verifier raises :class:`InvalidToken` and nothing else (or, for a genuine
token that merely expired, returns it for the core to refresh); ``SessionRules.decide`` raises
nothing, never authenticates, and never asks for a provider call on the attacker's behalf.
Every forgery that could be signed with the pool's own key is, so that only the rule under test
stands between it and a session.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from ssrauth._core.cookies import CookiePolicy
from ssrauth._core.jws import MAX_TOKEN_LENGTH
from ssrauth._core.keys import OIDC_SESSION_FIELDS, AmplifyKeys
from ssrauth._core.plan import RequestTarget
from ssrauth._core.rules import CLOCK_LEEWAY, CognitoRules, OidcRules, TokenRules
from ssrauth._core.session import Decision, SessionRules, State
from ssrauth._core.tokens import InvalidToken, JwkSet, TokenUse, VerifiedToken
from ssrauth._core.verify import TokenVerifier
from tests.unit.factory import (
    CLIENT_ID,
    HOST,
    ISSUER,
    KEYS,
    KID,
    NOW,
    OTHER_CLIENT_ID,
    amplify_cookies,
    b64url,
    cookie_header,
    minter,
    pool_key,
)

OIDC_ISSUER = "https://idp.example"
OIDC_CLIENT = "web-app"
#: The resource-server audience of the OIDC deployment's RFC 9068 access tokens.
API = "urn:api"
OIDC_KEYS = AmplifyKeys(OIDC_CLIENT, prefix="ssrauth", session_fields=OIDC_SESSION_FIELDS)
TARGET = RequestTarget("/", HOST)
#: An attacker's RSA key, and the same key as a JWK an attacker would embed.
ATTACKER = pool_key("attacker", seed=1).private_key


def b64_json(value: Any) -> str:
    return b64url(value.encode() if isinstance(value, str) else json.dumps(value).encode())


def rs256(signing_input: str, key: rsa.RSAPrivateKey) -> bytes:
    return key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())


@dataclass(frozen=True)
class Profile:
    """One deployment's rules, its genuine claims, and a signer that takes raw JSON too."""

    name: str
    issuer: str
    client_id: str
    rules: TokenRules
    keys: AmplifyKeys

    def claims(self, use: TokenUse, **overrides: Any) -> dict[str, Any]:
        """The claims the provider really issues, for ``alice``; ``None`` drops a claim."""
        if self.name == "cognito":
            claims = minter().claims(use, "alice")
        elif use == "id":
            claims = {"iss": self.issuer, "aud": self.client_id, "sub": "alice", "iat": NOW,
                      "exp": NOW + 300, "email": "alice@example.com"}
        else:
            claims = {"iss": self.issuer, "aud": API, "sub": "alice", "client_id": self.client_id,
                      "iat": NOW, "exp": NOW + 300, "scope": "openid"}
        merged = {**claims, **overrides}
        return {k: v for k, v in merged.items() if v is not None}

    def header(self, use: TokenUse, **overrides: Any) -> dict[str, Any]:
        typ = "at+jwt" if self.name == "oidc" and use == "access" else "JWT"
        merged = {"alg": "RS256", "kid": KID, "typ": typ, **overrides}
        return {k: v for k, v in merged.items() if v is not None}

    def sign(self, header: Mapping[str, Any] | str, claims: Mapping[str, Any] | str,
             key: rsa.RSAPrivateKey | None = None) -> str:
        """RS256 over exactly these JSON texts, with the pool's key unless ``key`` is given."""
        signing_input = f"{b64_json(header)}.{b64_json(claims)}"
        return f"{signing_input}.{b64url(rs256(signing_input, key or pool_key().private_key))}"

    def token(self, use: TokenUse, key: rsa.RSAPrivateKey | None = None,
              header: Mapping[str, Any] | None = None, **claims: Any) -> str:
        return self.sign(header or self.header(use), self.claims(use, **claims), key)

    def jwks(self, *extra: Mapping[str, Any]) -> JwkSet:
        return JwkSet.from_json({"keys": [pool_key().public_jwk, *extra]}, self.rules.algorithms)

    def verifier(self) -> TokenVerifier:
        return TokenVerifier(issuer=self.issuer, client_id=self.client_id, rules=self.rules)

    def core(self) -> SessionRules:
        return SessionRules(keys=self.keys, verifier=self.verifier(), policy=CookiePolicy())

    def cookies(self, tokens: Mapping[TokenUse, str], refresh: str | None = "rt-1") -> str:
        fields = {"access": tokens.get("access"), "id_token": tokens.get("id")}
        return cookie_header(amplify_cookies("alice", **fields, refresh=refresh,
                                             clock_drift="0", keys=self.keys))


COGNITO = Profile("cognito", ISSUER, CLIENT_ID, CognitoRules(CLIENT_ID), KEYS)
OIDC = Profile("oidc", OIDC_ISSUER, OIDC_CLIENT, OidcRules(OIDC_CLIENT, API), OIDC_KEYS)
PROFILES = {"cognito": COGNITO, "oidc": OIDC}


# -- the attacks -------------------------------------------------------------------------------
# Each builds (token, use) for a profile; ``use`` is the cookie it is planted in.

Attack = Callable[[Profile], tuple[str, TokenUse]]


def identity(build: Callable[[Profile, TokenUse], str]) -> Attack:
    """An attack on the token that authenticates (Cognito: access; OIDC: id)."""
    return lambda p: (build(p, p.rules.identity_use), p.rules.identity_use)


def alg_none(spelling: str, signature: bytes = b"") -> Attack:
    def build(p: Profile, use: TokenUse) -> str:
        head = f"{b64_json(p.header(use, alg=spelling))}.{b64_json(p.claims(use))}"
        return f"{head}.{b64url(signature)}"
    return identity(build)


def hs256_with(secret: Callable[[], bytes]) -> Attack:
    """Key confusion: HMAC keyed with the public key, which anyone can fetch."""
    def build(p: Profile, use: TokenUse) -> str:
        head = f"{b64_json(p.header(use, alg='HS256'))}.{b64_json(p.claims(use))}"
        return f"{head}.{b64url(hmac.new(secret(), head.encode(), hashlib.sha256).digest())}"
    return identity(build)


def with_header(key: rsa.RSAPrivateKey | None = None, **header: Any) -> Attack:
    return identity(lambda p, use: p.token(use, key, p.header(use, **header)))


def with_claims(**claims: Any) -> Attack:
    """Signed by the pool's own key: only the claim rule under test can refuse it."""
    return identity(lambda p, use: p.token(use, **claims))


def members(value: Mapping[str, Any]) -> str:
    return json.dumps(value)[1:-1]


def raw_payload(template: str, **overrides: Any) -> Attack:
    """Claims as raw JSON text (duplicates, 1e400, NaN), signed by the pool's own key;
    ``{claims}`` stands for the genuine claims' members (with ``overrides``)."""
    return identity(lambda p, use: p.sign(
        p.header(use), template.replace("{claims}", members(p.claims(use, **overrides)))))


def raw_header(template: str, **overrides: Any) -> Attack:
    """The header as raw JSON text, ``{header}`` standing for the genuine header's members."""
    return identity(lambda p, use: p.sign(
        template.replace("{header}", members(p.header(use, **overrides))), p.claims(use)))


def respelled(change: Callable[[list[str]], list[str]]) -> Attack:
    """A genuine token, its segments re-spelled: same bytes, or nearly, another string."""
    return identity(lambda p, use: ".".join(change(p.token(use).split("."))))


def each_segment(change: Callable[[str], str]) -> Callable[[list[str]], list[str]]:
    return lambda segments: [change(s) for s in segments]


def last_segment(change: Callable[[str], str]) -> Callable[[list[str]], list[str]]:
    return lambda segments: [*segments[:-1], change(segments[-1])]


def trailing_bits(segment: str) -> str:
    """The same bytes with a non-zero unused low bit in the last character (RFC 4648 §3.5)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    assert len(segment) % 4 in (2, 3), "a segment without unused bits"
    return segment[:-1] + alphabet[alphabet.index(segment[-1]) ^ 1]


def embedded_jwk(p: Profile, use: TokenUse) -> str:
    """The attacker's own public key in the header (RFC 7515 §4.1.3), signed by it."""
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(ATTACKER.public_key()))
    return p.token(use, ATTACKER, p.header(use, jwk={**jwk, "kid": KID}))


def embedded_x5c(p: Profile, use: TokenUse) -> str:
    """A self-signed certificate of the attacker's key in ``x5c`` (RFC 7515 §4.1.6)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cognito-idp.amazonaws.com")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(ATTACKER.public_key()).serial_number(1)
            .not_valid_before(datetime(2020, 1, 1, tzinfo=UTC))
            .not_valid_after(datetime(2040, 1, 1, tzinfo=UTC))
            .sign(ATTACKER, hashes.SHA256()))
    der = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
    return p.token(use, ATTACKER, p.header(use, x5c=[der]))


def swapped_use(p: Profile, use: TokenUse) -> tuple[str, TokenUse]:
    """A genuine token of the other use, planted where ``use`` goes."""
    other: TokenUse = "id" if use == "access" else "access"
    return p.token(other), use


def oversized(p: Profile, use: TokenUse) -> str:
    return p.token(use, padding="x" * 1_000_000)


def pem() -> bytes:
    return pool_key().public_pem


def jwk_text() -> bytes:
    return json.dumps(pool_key().public_jwk).encode()


ATTACKS: dict[str, Attack] = {
    **{f"alg-{s}": alg_none(s) for s in ("none", "None", "NONE", "nOnE")},
    "alg-none-with-a-signature": alg_none("none", b"\x00" * 32),
    "alg-empty": alg_none(""),
    "hs256-keyed-with-the-public-pem": hs256_with(pem),
    "hs256-keyed-with-the-public-jwk": hs256_with(jwk_text),
    "hs256-keyed-with-the-modulus": hs256_with(
        lambda: base64.urlsafe_b64decode(pool_key().public_jwk["n"] + "==")),
    "attacker-key-under-our-kid": with_header(ATTACKER),
    "unknown-kid": with_header(ATTACKER, kid="rotated-2"),
    "kid-path-traversal": with_header(ATTACKER, kid="../../../../dev/null"),
    "kid-sql": with_header(ATTACKER, kid="x' UNION SELECT 'secret' --"),
    "kid-very-long": with_header(ATTACKER, kid="k" * 5000),
    "kid-number": with_header(kid=1),
    "kid-list": with_header(kid=[KID]),
    "kid-object": with_header(kid={"kid": KID}),
    "kid-empty": with_header(kid=""),
    "kid-absent": with_header(kid=None),
    "kid-null": raw_header('{{header}, "kid": null}', kid=None),
    "jku-to-attacker-keys": with_header(ATTACKER, jku="https://evil.example/jwks.json"),
    "x5u-to-attacker-cert": with_header(ATTACKER, x5u="https://evil.example/cert.pem"),
    "jwk-embedded": identity(embedded_jwk),
    "x5c-embedded": identity(embedded_x5c),
    "crit-unknown-extension": with_header(crit=["urn:evil:ext"], **{"urn:evil:ext": 1}),
    "crit-b64-false": with_header(crit=["b64"], b64=False),
    "crit-empty": with_header(crit=[]),
    "header-duplicate-alg": raw_header('{{header}, "alg": "none"}'),
    "wrong-issuer": with_claims(iss="https://evil.example"),
    "issuer-prefix": with_claims(iss="https://"),  # PyJWT 2.10.0 matched iss as a substring
    "issuer-list": with_claims(iss=[ISSUER, OIDC_ISSUER]),
    "wrong-audience": with_claims(aud="someone-else"),
    "audience-number": with_claims(aud=1),
    "audience-list-without-us": with_claims(aud=["someone-else", API + "x"]),
    "access-for-another-client": lambda p: (p.token("access", client_id=OTHER_CLIENT_ID),
                                            "access"),
    "access-without-client-id": lambda p: (p.token("access", client_id=None), "access"),
    "access-as-id": lambda p: swapped_use(p, "id"),
    "id-as-access": lambda p: swapped_use(p, "access"),
    "not-yet-valid": with_claims(nbf=NOW + CLOCK_LEEWAY + 1),
    "issued-in-the-future": with_claims(iat=NOW + CLOCK_LEEWAY + 1,
                                        exp=NOW + CLOCK_LEEWAY + 3600),
    "exp-true": with_claims(exp=True),
    "iat-true": with_claims(iat=True),
    "nbf-false": with_claims(nbf=False),
    "exp-string": with_claims(exp=str(NOW + 3600)),
    "nbf-string": with_claims(nbf="foobar"),
    "exp-float": with_claims(exp=NOW + 3600.5),
    "exp-float-integral": with_claims(exp=float(NOW + 3600)),
    "exp-huge-integer": with_claims(exp=10**30),
    "exp-negative": with_claims(exp=-1),
    "iat-negative": with_claims(iat=-86_400),
    "exp-null": raw_payload('{{claims}, "exp": null}', exp=None),
    "exp-absent": with_claims(exp=None),
    "iat-absent": with_claims(iat=None),
    "exp-list": with_claims(exp=[NOW + 3600]),
    "exp-1e400": raw_payload('{{claims}, "exp": 1e400}', exp=None),
    "nbf-nan": raw_payload('{{claims}, "nbf": NaN}'),
    "nbf-minus-infinity": raw_payload('{{claims}, "nbf": -Infinity}'),
    "duplicate-exp": raw_payload('{{claims}, "exp": 1, "exp": 9999999999}', exp=None),
    "duplicate-sub": raw_payload('{{claims}, "sub": "admin"}'),
    "payload-a-list": raw_payload("[{{claims}}]"),
    "payload-with-bom": raw_payload("\ufeff{{claims}}"),
    "truncated-signature": respelled(lambda s: [*s[:2], s[2][:-8]]),
    "truncated-to-two-segments": respelled(lambda s: s[:2]),
    "signature-dropped": respelled(lambda s: [*s[:2], ""]),
    "five-segments": respelled(lambda s: [*s, "e30", "e30"]),
    "padded": respelled(each_segment(lambda s: s + "=" * (-len(s) % 4))),
    "padded-signature": respelled(last_segment(lambda s: s + "=" * (-len(s) % 4) + "==")),
    # Three "~" bytes encode as "fn5-": the payload surely holds a character to re-spell.
    "standard-alphabet": identity(lambda p, use: p.token(use, note="~~~~~~").replace(
        "-", "+").replace("_", "/")),
    "space-in-signature": respelled(last_segment(lambda s: s[:10] + " " + s[10:])),
    "newline-in-payload": respelled(lambda s: [s[0], s[1][:20] + "\n" + s[1][20:], s[2]]),
    "tab-after-header": respelled(lambda s: [s[0] + "\t", *s[1:]]),
    "leading-space": respelled(lambda s: [" " + s[0], *s[1:]]),
    "characters-inserted-into-signature": respelled(
        last_segment(lambda s: s[:40] + "!$~" + s[40:])),
    "non-zero-trailing-bits": respelled(last_segment(trailing_bits)),
    "oversized": identity(oversized),
}

#: A genuine token past its exp: the verifier returns it (the core compares exp per use) and,
#: with a refresh token beside it, the core refreshes: Amplify's behaviour, not an attack win.
EXPIRED = with_claims(iat=NOW - 7200, exp=NOW - 3600)

#: Where Cognito's and OpenID Connect's rules differ.
COGNITO_ATTACKS: dict[str, Attack] = {
    "wrong-token-use": with_claims(token_use="refresh"),
    "token-use-absent": with_claims(token_use=None),
    "id-token-without-aud": lambda p: (p.token("id", aud=None), "id"),
}
OIDC_ATTACKS: dict[str, Attack] = {
    "several-audiences-without-azp": with_claims(aud=[OIDC_CLIENT, API]),
    "azp-another-client": with_claims(azp="someone-else"),
    "sub-absent": with_claims(sub=None),
    "sub-empty": with_claims(sub=""),
    "sub-number": with_claims(sub=1),
    "aud-absent": with_claims(aud=None),
}
CASES = [
    *(pytest.param(PROFILES[p], a, id=f"{p}-{name}") for p in PROFILES
      for name, a in ATTACKS.items()),
    *(pytest.param(COGNITO, a, id=f"cognito-{name}") for name, a in COGNITO_ATTACKS.items()),
    *(pytest.param(OIDC, a, id=f"oidc-{name}") for name, a in OIDC_ATTACKS.items()),
]


def decide(p: Profile, header: str, now: float = NOW) -> Decision:
    return p.core().decide(header, TARGET, p.jwks(), now)


def genuine(p: Profile, **claims: Any) -> dict[TokenUse, str]:
    return {"access": p.token("access", **claims), "id": p.token("id", **claims)}


@pytest.mark.parametrize(("profile", "attack"), CASES)
def test_the_verifier_refuses_the_attack_with_invalid_token_only(
    profile: Profile, attack: Attack
) -> None:
    token, use = attack(profile)
    with pytest.raises(InvalidToken) as raised:
        profile.verifier().verify(token, use, profile.jwks(), NOW)
    assert raised.value.reason
    assert token[:60] not in raised.value.reason


@pytest.mark.parametrize(("profile", "attack"), CASES)
def test_the_core_neither_authenticates_nor_calls_the_provider_nor_raises(
    profile: Profile, attack: Attack
) -> None:
    token, use = attack(profile)
    tokens = genuine(profile)
    if use == profile.rules.identity_use:
        # The forgery is the only identity: with a refresh token beside it, it must not even
        # earn a provider call.
        decision = decide(profile, profile.cookies({**tokens, use: token}))
        assert decision.state is State.ANONYMOUS
        assert decision.session is None
    else:
        # A forged companion beside a genuine identity never rides along in the session.
        decision = decide(profile, profile.cookies({**tokens, use: token}))
        session = decision.session
        carried = (session.access_token, session.id_token) if session is not None else ()
        assert all(t is None or t.raw != token or t.claims == {} for t in carried)


@pytest.mark.parametrize("profile", PROFILES.values(), ids=PROFILES.keys())
def test_genuine_tokens_pass_the_same_rig(profile: Profile) -> None:
    """The rig itself is sound: unmodified tokens authenticate, so each refusal above is the
    attack's doing."""
    tokens = genuine(profile)
    for use, token in tokens.items():
        assert profile.verifier().verify(token, use, profile.jwks(), NOW).raw == token
    decision = decide(profile, profile.cookies(tokens))
    assert decision.state is State.AUTHENTICATED


@pytest.mark.parametrize("profile", PROFILES.values(), ids=PROFILES.keys())
def test_an_expired_genuine_token_is_returned_and_refreshed_never_authenticated(
    profile: Profile,
) -> None:
    token, use = EXPIRED(profile)
    assert profile.verifier().verify(token, use, profile.jwks(), NOW).exp == NOW - 3600
    tokens = {**genuine(profile), use: token}
    assert decide(profile, profile.cookies(tokens)).state is State.NEEDS_REFRESH
    alone = decide(profile, profile.cookies(tokens, refresh=None))
    assert alone.state is State.ANONYMOUS


# -- time claims: per use, with the leeway ---------------------------------------------------------


@pytest.mark.parametrize("profile", PROFILES.values(), ids=PROFILES.keys())
def test_nbf_and_iat_within_the_leeway_are_accepted(profile: Profile) -> None:
    use = profile.rules.identity_use
    for claims in ({"nbf": NOW + CLOCK_LEEWAY}, {"iat": NOW + CLOCK_LEEWAY},
                   {"nbf": NOW - 10}):
        token = profile.token(use, **claims)
        assert profile.verifier().verify(token, use, profile.jwks(), NOW).raw == token


@pytest.mark.parametrize("profile", PROFILES.values(), ids=PROFILES.keys())
@pytest.mark.parametrize("claims", [{"nbf": NOW + 600}, {"iat": NOW + 600, "exp": NOW + 4200}])
def test_a_token_refused_as_not_yet_valid_is_accepted_once_its_time_comes(
    profile: Profile, claims: dict[str, int]
) -> None:
    """The verifier caches by token digest; the time checks run on every use, so the refusal
    is not remembered past the moment the token becomes valid."""
    use = profile.rules.identity_use
    token = profile.token(use, **{"exp": NOW + 7200, **claims})
    verifier, keys = profile.verifier(), profile.jwks()
    for _ in range(2):
        with pytest.raises(InvalidToken, match="RFC 7519"):
            verifier.verify(token, use, keys, NOW)
    assert verifier.verify(token, use, keys, NOW + 600 - CLOCK_LEEWAY).raw == token
    core = profile.core()
    header = profile.cookies({**genuine(profile, exp=NOW + 7200), use: token})
    assert core.decide(header, TARGET, keys, NOW).state is State.ANONYMOUS
    assert core.decide(header, TARGET, keys, NOW + 600).state is State.AUTHENTICATED


# -- the key set -------------------------------------------------------------------------------


def ec_jwk(**extra: Any) -> dict[str, Any]:
    key = ec.generate_private_key(ec.SECP256R1())
    return {**json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key())), "kid": KID,
            **extra}


#: Below RFC 7518 §3.3's 2048 bits (the smallest cryptography will still generate).
SMALL_RSA = rsa.generate_private_key(public_exponent=65537, key_size=1024)


def small_rsa_jwk() -> dict[str, Any]:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(SMALL_RSA.public_key()))
    return {**jwk, "kid": KID, "alg": "RS256", "use": "sig"}


SECRET = b"a shared secret of 32 bytes long"


def pool_signed(p: Profile, use: TokenUse) -> str:
    return p.token(use)


#: (the key published under our kid, how the attacker's token is signed).
KeySet = tuple[Callable[[], dict[str, Any]], Callable[[Profile, TokenUse], str]]
KEY_SETS: dict[str, KeySet] = {
    "use-enc": (lambda: {**pool_key().public_jwk, "use": "enc"}, pool_signed),
    "key-ops-encrypt": (lambda: {**pool_key().public_jwk, "key_ops": ["encrypt"]}, pool_signed),
    "kty-oct": (lambda: {"kty": "oct", "k": b64url(SECRET), "kid": KID, "alg": "HS256"},
                lambda p, use: jwt.encode(p.claims(use), SECRET, "HS256",
                                          headers=p.header(use, alg="HS256"))),
    "ec-key-for-rs256": (lambda: ec_jwk(alg="RS256"), pool_signed),
    "ec-key-without-alg": (ec_jwk, pool_signed),
    "ec-p256-key-claiming-es384": (lambda: ec_jwk(alg="ES384"), pool_signed),
    "rsa-1024-bit-key": (small_rsa_jwk, lambda p, use: p.token(use, SMALL_RSA)),
}


@pytest.mark.parametrize("profile", PROFILES.values(), ids=PROFILES.keys())
@pytest.mark.parametrize("key_set", KEY_SETS.values(), ids=KEY_SETS.keys())
def test_keys_of_the_wrong_type_or_use_never_verify_anything(
    profile: Profile, key_set: KeySet
) -> None:
    entry, sign = key_set
    keys = JwkSet.from_json({"keys": [entry()]}, profile.rules.algorithms)
    assert KID not in keys.keys or keys.algorithm(KID) != "RS256"
    use = profile.rules.identity_use
    token = sign(profile, use)
    with pytest.raises(InvalidToken):
        profile.verifier().verify(token, use, keys, NOW)
    decision = profile.core().decide(profile.cookies({use: token}), TARGET, keys, NOW)
    assert decision.state is State.ANONYMOUS


# -- parsers -----------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(list(PROFILES.values())),
       st.lists(st.tuples(st.integers(0, 400), st.sampled_from(list(" \t\n=+/!.~%\x00é"))),
                min_size=1, max_size=4))
def test_any_character_inserted_into_a_genuine_token_is_refused(
    profile: Profile, insertions: list[tuple[int, str]]
) -> None:
    use = profile.rules.identity_use
    token = profile.token(use)
    for position, character in insertions:
        token = token[:position] + character + token[position:]
    with pytest.raises(InvalidToken):
        profile.verifier().verify(token, use, profile.jwks(), NOW)


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers()
                    | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=3), inner, max_size=3), max_leaves=8),
       st.sampled_from(["exp", "iat", "nbf", "iss", "aud", "sub", "token_use", "client_id"]))
def test_any_json_value_in_a_registered_claim_is_verified_or_refused_never_an_error(
    value: Any, claim: str
) -> None:
    for profile in PROFILES.values():
        use = profile.rules.identity_use
        token = profile.token(use, **{claim: value}) if value is not None else profile.sign(
            profile.header(use), {**profile.claims(use), claim: None})
        try:
            verified = profile.verifier().verify(token, use, profile.jwks(), NOW)
        except InvalidToken:
            continue
        assert isinstance(verified, VerifiedToken)
        if claim in ("exp", "iat", "nbf"):
            assert type(value) is int


def test_the_length_limit_is_checked_before_decoding() -> None:
    token = COGNITO.token("access")
    assert len(token) < MAX_TOKEN_LENGTH
    with pytest.raises(InvalidToken, match="longer than"):
        COGNITO.verifier().verify("a" * (MAX_TOKEN_LENGTH + 1), "access", COGNITO.jwks(), NOW)
