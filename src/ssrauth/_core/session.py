"""Session decisions: from a Cookie header to "authenticated / needs refresh / anonymous" and the
cookie plan that goes with each outcome. Pure: a header, a key set and a time go in; a decision
comes out. Providers, coordinators and adapters act on it.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .cookies import CookiePolicy, SetCookie, encode_value
from .jar import CookieFamily, auth_pieces, read_family
from .keys import EXPIRES_AT, LAST_AUTH_USER, AmplifyKeys
from .memo import Memo
from .plan import PlanBuilder, RequestTarget
from .rules import field_of, opaque_access_token
from .tokens import (
    InvalidToken,
    JwkSet,
    TokenSet,
    TokenUse,
    UnknownSigningKey,
    VerifiedToken,
    token_digest,
)
from .verify import TokenVerifier

__all__ = ["Decision", "Outcome", "Session", "SessionRules", "Settled", "State"]

#: Amplify refreshes when ``now + clockDrift + 5 s > exp`` (``isTokenExpired``): the same margin
#: means the server and Amplify JS in the page agree on when a token is stale.
DEFAULT_REFRESH_MARGIN = 5.0

#: Requests whose settled decisions are remembered, per memo (one keyed by the whole request,
#: one by our cookies). Each entry is a few KB (the header, the verified tokens it shares with
#: the verification cache): the default holds a busy worker's active users in a few tens of MB.
DEFAULT_MEMO_SIZE = 4096

#: Largest Cookie header whose decision is memoised (nginx's default request-header buffer).
_MEMO_HEADER_LIMIT = 8192

#: A clockDrift cookie beyond a day is garbage, not skew; ignore it rather than trust it.
_MAX_DRIFT_MS = 86_400_000


class State(enum.Enum):
    AUTHENTICATED = "authenticated"
    NEEDS_REFRESH = "needs_refresh"
    ANONYMOUS = "anonymous"


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in user, from tokens that verified."""

    #: The user name in the cookie keys (Amplify's LastAuthUser): where the session is stored,
    #: never who the user is. It may be an alias the user typed, and anyone can rename a cookie.
    cookie_username: str
    #: Cognito: verified. OpenID Connect: verified only if it is an RFC 9068 JWT checked against
    #: a configured audience; otherwise an opaque string with no claims, carried for the app to
    #: pass on, never trusted (its ``exp`` comes from ``expires_in`` at issue time).
    access_token: VerifiedToken
    id_token: VerifiedToken | None
    #: Which token proves who the user is: Cognito's access token, an OpenID Connect id token.
    authenticated_by: TokenUse = "access"

    is_authenticated = True

    @property
    def username(self) -> str:
        """The name to authorise on, from the verified tokens: Cognito's username; under
        OpenID Connect the ``sub``, because a generic provider may let users choose a
        ``username``-like claim, and only ``sub`` is the issuer's stable identifier."""
        if self.authenticated_by == "id":
            return self.sub
        return (self.access_token.username
                or (self.id_token.username if self.id_token is not None else None)
                or self.sub)

    @property
    def claims(self) -> Mapping[str, Any]:
        """The id token's claims (profile: email, groups…) or, without one, the access token's."""
        return (self.id_token or self.access_token).claims

    @property
    def sub(self) -> str:
        identity = self.id_token if self.authenticated_by == "id" else self.access_token
        return str(identity.claims.get("sub", "")) if identity is not None else ""

    @property
    def expires_at(self) -> int:
        return min(t.exp for t in (self.access_token, self.id_token) if t is not None)


@dataclass(frozen=True, slots=True)
class Decision:
    """What one request's cookies say, before any I/O.

    ``session`` may be set while ``state`` is NEEDS_REFRESH: the tokens are inside Amplify's
    refresh margin but not expired, so the request can still be served if the provider is down.
    ``plan`` is what to send if nothing else happens (tidying duplicates, or clearing a dead
    session); later steps replace it.
    """

    state: State
    session: Session | None
    username: str | None
    refresh_tokens: tuple[str, ...]
    plan: tuple[SetCookie, ...]
    reason: str
    family: CookieFamily
    target: RequestTarget
    unknown_kids: frozenset[str] = frozenset()
    duplicates: int = 0
    sign_in_details: str | None = None
    #: Cognito's own username from the freshest verified access token (expired or not): what
    #: SECRET_HASH needs on refresh, where LastAuthUser may hold an alias such as an e-mail.
    provider_username: str | None = None
    #: Copies that failed verification (forged, another pool or client, garbage), for the
    #: TOKEN_INVALID event; expiry alone is not a failure.
    invalid_tokens: int = 0
    #: SHA-256 of each refresh token, for the per-request revocation check: computed once with
    #: the (memoised) decision instead of hashing ~1.7 KB Cognito refresh tokens per request.
    refresh_digests: tuple[bytes, ...] = dataclasses.field(default=(), repr=False)

    @property
    def is_quiet(self) -> bool:
        """Nearly every request: nothing to fetch, refresh or report. Once the coordinator
        confirms no sign-out, such a decision stands as it is (:meth:`SessionRules.keep`)."""
        return (
            self.state is not State.NEEDS_REFRESH
            and not self.unknown_kids
            and not self.duplicates
            and not self.invalid_tokens
        )


@dataclass(frozen=True, slots=True)
class Outcome:
    """The final word for one response: who the user is and which Set-Cookie lines to send."""

    session: Session | None
    plan: tuple[SetCookie, ...]
    reason: str
    #: The tokens just written (sign-in or refresh), so a sign-out in the same request can
    #: revoke the newest refresh token too.
    tokens: TokenSet | None = None


@dataclass(frozen=True, slots=True)
class Settled:
    """A quiet decision remembered for one exact request (Cookie header, path, host), with the
    outcome it stands for: what the per-request fast path hands back without deciding again."""

    decision: Decision
    outcome: Outcome


#: A remembered decision: the key set it was made with, until when it holds (the tokens enter
#: the refresh margin then), the decision, and its outcome when the decision is quiet.
_Remembered = tuple[JwkSet, float, Decision, Settled | None]


@dataclass(frozen=True, slots=True)
class _Pick:
    token: VerifiedToken | None
    position: int | None  # of the winning copy among the family's copies (header order)
    problems: tuple[str, ...]
    unknown_kids: frozenset[str]
    failures: int
    #: An opaque access token, carried with the expiry we recorded on our clock.
    opaque: bool = False


class SessionRules:
    """The decision core for one app client: verification rules, cookie names and policy."""

    def __init__(
        self,
        *,
        keys: AmplifyKeys,
        verifier: TokenVerifier,
        policy: CookiePolicy,
        refresh_margin: float = DEFAULT_REFRESH_MARGIN,
        memo_size: int = DEFAULT_MEMO_SIZE,
    ) -> None:
        self.keys = keys
        self.verifier = verifier
        self.policy = policy
        self.refresh_margin = refresh_margin
        # A browser repeats one Cookie header on every request until something changes, so a
        # settled "authenticated" decision is remembered until its tokens enter the refresh
        # margin (``valid_until``), for the key set it was made with. Keyed by plain strings
        # (header, path, host): hashing a ``RequestTarget`` runs Python code on every request.
        self._settled: Memo[tuple[str, str, str], _Remembered] = Memo(memo_size)
        # Keyed by our cookies only: a header that differs in someone else's cookie (analytics
        # rewrite theirs on every page view) or a request for another path still finds the
        # decision. Only the target differs then, and it matters only to a non-empty plan.
        self._settled_auth: Memo[tuple[str, ...], _Remembered] = Memo(memo_size)

    # -- reading -------------------------------------------------------------------------------

    def settled(
        self, cookie_header: str, path: str, host: str, jwks: JwkSet, now: float
    ) -> Settled | None:
        """The quiet decision made for exactly this request before and still valid at ``now``
        under ``jwks``, with its outcome; None when :meth:`decide` must be asked. The per-request
        fast path: a browser repeats one Cookie header on every request of a page."""
        remembered = self._settled.get((cookie_header, path, host))
        if remembered is not None and remembered[0] is jwks and now < remembered[1]:
            return remembered[3]
        return None

    def decide(
        self, cookie_header: str, target: RequestTarget, jwks: JwkSet, now: float
    ) -> Decision:
        """What the cookies of one request say at ``now``, verified against ``jwks``."""
        key = (cookie_header, target.path, target.host)
        remembered = self._settled.get(key)
        if remembered is not None and remembered[0] is jwks and now < remembered[1]:
            return remembered[2]
        pieces = auth_pieces(cookie_header, self.keys.prefix)
        remembered = self._settled_auth.get(pieces)
        if remembered is not None and remembered[0] is jwks and now < remembered[1]:
            decision = remembered[2]
            if decision.target != target:
                if decision.plan:
                    remembered = None  # a tidy plan's deletions depend on the path and host
                else:
                    decision = _retarget(decision, target)
                    remembered = (jwks, remembered[1], decision, self._quiet(decision))
            if remembered is not None:
                self._remember(key, cookie_header, remembered)
                return decision
        decision, valid_until = self._decide(pieces, target, jwks, now)
        if valid_until is not None:
            remembered = (jwks, valid_until, decision, self._quiet(decision))
            if self._remember(key, cookie_header, remembered):
                self._settled_auth.put(pieces, remembered)
        return decision

    @staticmethod
    def _quiet(decision: Decision) -> Settled | None:
        return Settled(decision, _kept(decision)) if decision.is_quiet else None

    def _remember(self, key: tuple[str, str, str], cookie_header: str,
                  remembered: _Remembered) -> bool:
        # Only headers of a sane size are remembered: the memo must not become a way to pin
        # megabytes of padded cookies in memory.
        if len(cookie_header) > _MEMO_HEADER_LIMIT:
            return False
        self._settled.put(key, remembered)
        return True

    def _decide(
        self, pieces: tuple[str, ...], target: RequestTarget, jwks: JwkSet, now: float
    ) -> tuple[Decision, float | None]:
        family = read_family(pieces, self.keys)
        duplicates = len(family.duplicated())
        if family.is_empty:
            empty = Decision(State.ANONYMOUS, None, None, (), (), "no auth cookies", family, target)
            return empty, None

        # ``ident`` proves who the user is (Cognito: the access token; OIDC: the id token) and
        # ``comp`` is the other token, which must belong to the same user.
        username, ident = self._pick_user(family, jwks, now)
        comp = self._pick_companion(family, username, ident, jwks, now)
        rules = self.verifier.rules
        unknown = ident.unknown_kids | comp.unknown_kids
        anchor = ident.position
        refresh_tokens = tuple(_companions(family.entries(username, "refreshToken"), anchor))
        digests = tuple(token_digest(t) for t in refresh_tokens)
        drift_ms = _parse_drift(_companion(family.entries(username, "clockDrift"), anchor))
        details = _companion(family.entries(username, "signInDetails"), anchor)
        # Duplicated tokens are rewritten with the copies that verified, never by position.
        chosen = {field_of(pick.token.token_use): pick.token.raw for pick in (ident, comp)
                  if pick.token is not None}
        tidy = self._tidy_plan(family, target, username, anchor, chosen)
        token = ident.token

        def decision(state: State, session: Session | None, plan: tuple[SetCookie, ...],
                     reason: str) -> Decision:
            return Decision(state, session, username, refresh_tokens, plan, reason, family,
                            target, unknown, duplicates, details,
                            token.username if token is not None else None,
                            ident.failures + comp.failures, digests)

        comp_broken = comp.token is None and (bool(comp.problems) or rules.companion_required)
        hard_valid = (
            token is not None
            and token.exp > now
            and (comp.token.exp > now if comp.token is not None
                 else not rules.companion_required)
        )
        session = self._session(username, token, comp.token) if hard_valid and token else None
        # Issuer times are read through Amplify's clockDrift; an opaque access token's expiry
        # was recorded on our own clock, so it needs none.
        timed = [(t, drift_ms) for t in (token,) if t is not None]
        if comp.token is not None:
            timed.append((comp.token, 0 if comp.opaque else drift_ms))
        expiring = token is None or comp_broken or any(
            t.exp * 1000 < now * 1000 + skew + self.refresh_margin * 1000 for t, skew in timed
        )
        if not expiring and session is not None:
            valid_until = min(min(t.exp - skew / 1000 - self.refresh_margin for t, skew in timed),
                              session.expires_at)
            return decision(State.AUTHENTICATED, session, tidy, "valid tokens"), valid_until
        reason = "; ".join(ident.problems + comp.problems) or "tokens expire"
        # Only a verified (if expired) identity token earns a provider call, as in Amplify, where
        # a missing or unverifiable access token reads as "no tokens": otherwise anyone could
        # make us call the provider once per made-up refresh token.
        if refresh_tokens and token is not None:
            return decision(State.NEEDS_REFRESH, session, tidy, reason), None
        if session is not None:
            return decision(State.AUTHENTICATED, session, tidy, "valid, no refresh token"), None
        if unknown:
            # We could not judge the tokens (JWKS out of reach): never log out on our own failure.
            return decision(State.ANONYMOUS, None, (), reason), None
        clear = self._clear_plan(family, target)
        missing = ("no refresh token" if token is not None
                   else f"no verified {rules.identity_use} token")
        return decision(State.ANONYMOUS, None, clear, f"{reason}; {missing}"), None

    def _session(
        self, username: str, identity: VerifiedToken, companion: VerifiedToken | None
    ) -> Session:
        if self.verifier.rules.identity_use == "access":
            return Session(username, identity, companion)
        assert companion is not None  # an OIDC session needs its access token
        return Session(username, companion, identity, "id")

    def _pick_user(self, family: CookieFamily, jwks: JwkSet, now: float) -> tuple[str, _Pick]:
        """The user whose identity token verifies freshest; LastAuthUser decides ties."""
        users = family.last_auth_users()
        rules = self.verifier.rules
        use = rules.identity_use
        # OIDC families are filed under the id token's sub (``username_is_sub``): an id token
        # found under another user's names is not that user's session. Otherwise a planted
        # copy would pair one user's identity with another's access and refresh tokens (and
        # _verify_new only checks refreshed tokens against the cookie user, not this one).
        picks = [(u, self._pick(family.entries(u, field_of(use)), use, jwks, now, None,
                                owner=u if rules.username_is_sub else None))
                 for u in users]
        valid = [(u, p) for u, p in picks if p.token is not None]
        if valid:
            return max(valid, key=lambda up: _freshness(up[1].token))
        return picks[0]

    def _pick_companion(
        self, family: CookieFamily, username: str, identity: _Pick, jwks: JwkSet, now: float
    ) -> _Pick:
        """The companion token: verified when the rules can verify it; an opaque access token
        is carried beside a verified identity (nearest its copy), with the expiry recorded when
        it was issued (``expiresAt``); without one it counts as expired (refresh to learn)."""
        rules = self.verifier.rules
        entries = family.entries(username, field_of(rules.companion_use))
        opaque = [entry for entry in entries if rules.is_opaque(entry[1])]
        pick = self._pick([e for e in entries if e not in opaque], rules.companion_use, jwks, now,
                          identity.token)
        if pick.token is not None or not opaque or identity.token is None:
            return pick
        anchor = identity.position
        position, value = min(opaque, key=lambda entry: (abs(entry[0] - (anchor or 0)), entry[0]))
        expires_at = _parse_int(_companion(family.entries(username, EXPIRES_AT), anchor))
        token = opaque_access_token(value, identity.token, expires_at)
        return _Pick(token, position, (), pick.unknown_kids, pick.failures, opaque=True)

    def _pick(
        self,
        entries: Sequence[tuple[int, str]],
        use: TokenUse,
        jwks: JwkSet,
        now: float,
        partner: VerifiedToken | None,
        owner: str | None = None,
    ) -> _Pick:
        """Among duplicate copies, the freshest that verifies (and belongs with ``partner``).

        Header order is no guide (RFC 6265 §5.4 sorts by path length, then age), so every copy
        is verified; the cache keeps that cheap.
        """
        best: VerifiedToken | None = None
        best_position: int | None = None
        problems: list[str] = []
        failures = 0
        unknown: set[str] = set()
        for position, value in entries:
            try:
                token = self.verifier.verify(value, use, jwks, now)
            except UnknownSigningKey as error:
                unknown.add(error.kid)
                problems.append(error.reason)
                continue
            except InvalidToken as error:
                problems.append(error.reason)
                failures += 1
                continue
            if partner is not None and token.claims.get("sub") != partner.claims.get("sub"):
                problems.append(f"{use} token belongs to another user")
                continue
            if owner is not None and token.claims.get("sub") != owner:
                problems.append(f"{use} token is filed under another user's name")
                continue
            if best is None or _freshness(token) > _freshness(best):
                best, best_position = token, position
        if best is not None:
            problems = []
        return _Pick(best, best_position, tuple(dict.fromkeys(problems)), frozenset(unknown),
                     failures)

    # -- outcomes after I/O ----------------------------------------------------------------------

    def keep(self, decision: Decision) -> Outcome:
        """Nothing was refreshed (not needed, or the provider is unavailable): tidy only."""
        return _kept(decision)

    def after_refresh(
        self, decision: Decision, tokens: TokenSet, jwks: JwkSet, now: float
    ) -> Outcome:
        """New tokens from the provider (or from a sibling request's refresh): write them.

        ``now`` is when the tokens were received, not when this response is built: a result
        reused from the grace window must carry the clockDrift measured when it arrived, or
        Amplify in the page would trust an expired token for up to a minute."""
        assert decision.username is not None
        return self.establish(decision, decision.username, tokens, decision.sign_in_details,
                              jwks, now, "refreshed")

    def clear(self, decision: Decision, reason: str) -> Outcome:
        """The session is over (rejected refresh, sign-out): delete every variant, once."""
        plan = self._clear_plan(decision.family, decision.target)
        return Outcome(None, plan, reason)

    def establish(
        self,
        decision: Decision,
        username: str,
        tokens: TokenSet,
        sign_in_details: str | None,
        jwks: JwkSet,
        now: float,
        reason: str = "signed in",
    ) -> Outcome:
        """Write a session (a sign-in, or a refresh) on the request ``decision`` was made for:
        every changed field canonically, strays of the names written deleted, other users'
        families removed. A field the browser already holds once, canonically, with the same
        value (LastAuthUser and signInDetails on a refresh, the refresh token without rotation)
        is left alone: rewriting it would only add Set-Cookie lines and deletions.
        Raises ``InvalidToken`` when the provider's own tokens do not verify."""
        family = decision.family
        identity, companion, extra = self._verify_new(username, tokens, jwks, now)
        builder = PlanBuilder(decision.target, self.policy, family.sent_counts)
        written = {LAST_AUTH_USER: username, "accessToken": tokens.access_token,
                   "refreshToken": tokens.refresh_token,
                   # Amplify's clockDrift: issuer time minus our time, in ms, at storage time.
                   "clockDrift": str(identity.iat * 1000 - int(now * 1000)), **extra}
        if tokens.id_token is not None:
            written["idToken"] = tokens.id_token
        if sign_in_details is not None:
            written["signInDetails"] = sign_in_details
        for field, value in written.items():
            owner = None if field == LAST_AUTH_USER else username
            canonical = self._name(owner, field)
            if family.raw_names(owner, field) == [canonical] and family.values(
                owner, field
            ) == [value]:
                continue
            for raw in family.raw_names(owner, field):
                if raw != canonical:
                    builder.delete(raw)
            builder.write(canonical, encode_value(value), verifiable=self._verifiable(field, value))
        # Fields the session may hold that these tokens lack (an id token, an access token's
        # recorded expiry): the old values would no longer belong, so they go.
        dropped = tuple(f for f in ("idToken", EXPIRES_AT)
                        if f in self.keys.session_fields and f not in written)
        for field in dropped:
            for raw in family.raw_names(username, field):
                builder.delete(raw)
        self._tidy(builder, family, username, None, {}, rewritten=(*written, *dropped))
        session = self._session(username, identity, companion)
        return Outcome(session, builder.build(), reason, tokens)

    def _verify_new(
        self, username: str, tokens: TokenSet, jwks: JwkSet, now: float
    ) -> tuple[VerifiedToken, VerifiedToken | None, dict[str, str]]:
        """The provider's new tokens by the rules: (identity, companion, extra cookie fields).
        Raises ``InvalidToken`` when they do not verify or do not belong to ``username``."""
        rules = self.verifier.rules
        raw = {"access": tokens.access_token, "id": tokens.id_token}
        identity_raw = raw[rules.identity_use]
        if identity_raw is None:
            raise InvalidToken(f"the provider's answer has no {rules.identity_use} token")
        identity = self.verifier.verify(identity_raw, rules.identity_use, jwks, now)
        if rules.username_is_sub and identity.claims.get("sub") != username:
            raise InvalidToken("the new tokens belong to another user")
        companion_raw = raw[rules.companion_use]
        extra: dict[str, str] = {}
        if companion_raw is None:
            return identity, None, extra
        if not rules.is_opaque(companion_raw):
            companion = self.verifier.verify(companion_raw, rules.companion_use, jwks, now)
            if companion.claims.get("sub") != identity.claims.get("sub"):
                raise InvalidToken("the new tokens belong to two users")
            return identity, companion, extra
        # On our clock, from when the answer arrived: no drift to trust or correct. A provider
        # that does not say is taken to grant the id token's lifetime.
        lifetime = (tokens.expires_in if tokens.expires_in is not None
                    else identity.exp - identity.iat)
        expires_at = int(now) + lifetime
        extra = {EXPIRES_AT: str(expires_at)}
        return identity, opaque_access_token(companion_raw, identity, expires_at), extra

    # -- plans -----------------------------------------------------------------------------------

    def _name(self, username: str | None, field: str) -> str:
        if username is None:
            return self.keys.last_auth_user_name
        return self.keys.name(username, field)

    def _verifiable(self, field: str, value: str) -> bool:
        """A signed token: of two copies of it the next request keeps the freshest that
        verifies (``_pick``), so a stray left beside the copy written now cannot win. A refresh
        token, an opaque access token and every other field are told apart by position only
        (``_companion``), which a stray on a deeper path, sent first, can win."""
        return field in (field_of("access"), field_of("id")) and not (
            self.verifier.rules.is_opaque(value))

    def _tidy_plan(
        self,
        family: CookieFamily,
        target: RequestTarget,
        username: str,
        anchor: int | None,
        chosen: Mapping[str, str],
    ) -> tuple[SetCookie, ...]:
        if self._tidy_already(family, username):
            return ()
        builder = PlanBuilder(target, self.policy, family.sent_counts)
        self._tidy(builder, family, username, anchor, chosen, rewritten=())
        return builder.build()

    def _tidy_already(self, family: CookieFamily, username: str) -> bool:
        """The common case, checked before building anything: one copy of each field, all of
        ``username`` (or LastAuthUser), every name spelled canonically; ``_tidy`` would add
        nothing."""
        for (owner, field), group in family.by_field.items():
            if len(group) != 1 or (owner is not None and owner != username):
                return False
            if group[0].raw_name != self._name(owner, field):
                return False
        return True

    def _tidy(
        self,
        builder: PlanBuilder,
        family: CookieFamily,
        username: str,
        anchor: int | None,
        chosen: Mapping[str, str],
        rewritten: tuple[str, ...],
    ) -> None:
        """Heal what the browser holds without changing the session it means.

        * another user's session fields (a stale family left by an earlier sign-in) are deleted;
        * a field sent twice, or under a non-canonical spelling, is rewritten once canonically
          and every other variant deleted. Tokens keep the copy that verified (``chosen``);
          other fields the copy written together with the winning access token (``anchor``).
        """
        groups = dict.fromkeys((c.username, c.field) for c in family.copies)
        duplicated = set(family.duplicated())
        for owner, field in groups:
            if owner is not None and owner != username:
                if field in self.keys.session_fields:
                    for raw in family.raw_names(owner, field):
                        builder.delete(raw)
                continue
            if field in rewritten:
                continue
            canonical = self._name(owner, field)
            raws = family.raw_names(owner, field)
            if (owner, field) not in duplicated and raws == [canonical]:
                continue
            if owner is None:
                value: str | None = username
            elif field in chosen:
                value = chosen[field]
            else:
                value = _companion(family.entries(owner, field), anchor)
            for raw in raws:
                if raw != canonical:
                    builder.delete(raw)
            if value is not None:
                builder.write(canonical, encode_value(value),
                              verifiable=self._verifiable(field, value))

    def _clear_plan(self, family: CookieFamily, target: RequestTarget) -> tuple[SetCookie, ...]:
        builder = PlanBuilder(target, self.policy, family.sent_counts)
        # Only names the browser sent: a cookie it did not send cannot path- or domain-match
        # this request, so no variant of it is reachable (or harmful) from here.
        for copy in family.copies:
            if copy.field in self.keys.session_fields or copy.field == LAST_AUTH_USER:
                builder.delete(copy.raw_name)
        return builder.build()


def _kept(decision: Decision) -> Outcome:
    return Outcome(decision.session, decision.plan, decision.reason)


def _retarget(d: Decision, target: RequestTarget) -> Decision:
    """The same decision for another request target (``dataclasses.replace`` costs 3x more)."""
    return Decision(d.state, d.session, d.username, d.refresh_tokens, d.plan, d.reason, d.family,
                    target, d.unknown_kids, d.duplicates, d.sign_in_details, d.provider_username,
                    d.invalid_tokens, d.refresh_digests)


def _freshness(token: VerifiedToken | None) -> tuple[int, int]:
    return (token.iat, token.exp) if token is not None else (-1, -1)


def _companion(entries: Sequence[tuple[int, str]], anchor: int | None) -> str | None:
    """The copy of a field that was written together with the winning access token."""
    ordered = _companions(entries, anchor)
    return ordered[0] if ordered else None


def _companions(entries: Sequence[tuple[int, str]], anchor: int | None) -> list[str]:
    """Distinct values of a field, nearest the winning access token (``anchor``) first.

    A writer stores a user's fields together, under one path and domain, and the browser sends
    one path's cookies together in creation order (RFC 6265 §5.4), so the copy sent nearest the
    winning access token is the one written with it. Without a winner, header order stands: the
    first copy is the one Amplify JS (js-cookie ``get``) reads in the browser.
    """
    if anchor is not None:
        entries = sorted(entries, key=lambda entry: (abs(entry[0] - anchor), entry[0]))
    return list(dict.fromkeys(value for _, value in entries))


def _parse_int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _parse_drift(value: str | None) -> int:
    drift = _parse_int(value) or 0
    return drift if abs(drift) <= _MAX_DRIFT_MS else 0
