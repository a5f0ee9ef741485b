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

from ._cookies import CookiePolicy, SetCookie, encode_value
from ._jar import CookieFamily, auth_pieces, read_family
from ._keys import LAST_AUTH_USER, SESSION_FIELDS, AmplifyKeys
from ._memo import Memo
from ._plan import PlanBuilder, RequestTarget
from ._tokens import (
    InvalidToken,
    JwkSet,
    TokenSet,
    TokenUse,
    TokenVerifier,
    UnknownSigningKey,
    VerifiedToken,
    token_digest,
)

__all__ = ["Decision", "Outcome", "Session", "SessionRules", "State"]

#: Amplify refreshes when ``now + clockDrift + 5 s > exp`` (``isTokenExpired``): the same margin
#: means the server and Amplify JS in the page agree on when a token is stale.
DEFAULT_REFRESH_MARGIN = 5.0

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
    access_token: VerifiedToken
    id_token: VerifiedToken | None

    is_authenticated = True

    @property
    def username(self) -> str:
        """Cognito's username, from the verified tokens: the name to authorise on."""
        return (self.access_token.username
                or (self.id_token.username if self.id_token is not None else None)
                or self.sub)

    @property
    def claims(self) -> Mapping[str, Any]:
        """The id token's claims (profile: email, groups…) or, without one, the access token's."""
        return (self.id_token or self.access_token).claims

    @property
    def sub(self) -> str:
        return str(self.access_token.claims.get("sub", ""))

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
class _Pick:
    token: VerifiedToken | None
    position: int | None  # of the winning copy among the family's copies (header order)
    problems: tuple[str, ...]
    unknown_kids: frozenset[str]
    failures: int


class SessionRules:
    """The decision core for one app client: verification rules, cookie names and policy."""

    def __init__(
        self,
        *,
        keys: AmplifyKeys,
        verifier: TokenVerifier,
        policy: CookiePolicy,
        refresh_margin: float = DEFAULT_REFRESH_MARGIN,
    ) -> None:
        self.keys = keys
        self.verifier = verifier
        self.policy = policy
        self.refresh_margin = refresh_margin
        # A browser repeats one Cookie header on every request until something changes, so a
        # settled "authenticated" decision is remembered until its tokens enter the refresh
        # margin (``valid_until``), for the key set it was made with.
        self._settled: Memo[tuple[str, RequestTarget], tuple[JwkSet, float, Decision]] = Memo(
            1024
        )
        # Keyed by our cookies only: a header that differs in someone else's cookie (analytics
        # rewrite theirs on every page view) or a request for another path still finds the
        # decision. Only the target differs then, and it matters only to a non-empty plan.
        self._settled_auth: Memo[tuple[str, ...], tuple[JwkSet, float, Decision]] = Memo(1024)

    # -- reading -------------------------------------------------------------------------------

    def decide(
        self, cookie_header: str, target: RequestTarget, jwks: JwkSet, now: float
    ) -> Decision:
        """What the cookies of one request say at ``now``, verified against ``jwks``."""
        key = (cookie_header, target)
        settled = self._settled.get(key)
        if settled is not None and settled[0] is jwks and now < settled[1]:
            return settled[2]
        pieces = auth_pieces(cookie_header, self.keys.prefix)
        settled = self._settled_auth.get(pieces)
        if settled is not None and settled[0] is jwks and now < settled[1]:
            decision = settled[2]
            if decision.target != target:
                if decision.plan:
                    settled = None  # a tidy plan's deletions depend on the path and host
                else:
                    decision = _retarget(decision, target)
                    settled = (jwks, settled[1], decision)
            if settled is not None:
                self._settled.put(key, settled)
                return decision
        decision, valid_until = self._decide(pieces, target, jwks, now)
        # Only headers of a sane size are remembered: the memo must not become a way to pin
        # megabytes of padded cookies in memory.
        if valid_until is not None and len(cookie_header) <= _MEMO_HEADER_LIMIT:
            self._settled.put(key, (jwks, valid_until, decision))
            self._settled_auth.put(pieces, (jwks, valid_until, decision))
        return decision

    def _decide(
        self, pieces: tuple[str, ...], target: RequestTarget, jwks: JwkSet, now: float
    ) -> tuple[Decision, float | None]:
        family = read_family(pieces, self.keys)
        duplicates = len(family.duplicated())
        if family.is_empty:
            empty = Decision(State.ANONYMOUS, None, None, (), (), "no auth cookies", family, target)
            return empty, None

        username, access = self._pick_user(family, jwks)
        id_pick = self._pick(family.entries(username, "idToken"), "id", jwks, access.token)
        unknown = access.unknown_kids | id_pick.unknown_kids
        anchor = access.position
        refresh_tokens = tuple(_companions(family.entries(username, "refreshToken"), anchor))
        digests = tuple(token_digest(t) for t in refresh_tokens)
        drift_ms = _parse_drift(_companion(family.entries(username, "clockDrift"), anchor))
        details = _companion(family.entries(username, "signInDetails"), anchor)
        # Duplicated tokens are rewritten with the copies that verified, never by position.
        chosen = {field: pick.token.raw for field, pick in
                  (("accessToken", access), ("idToken", id_pick)) if pick.token is not None}
        tidy = self._tidy_plan(family, target, username, anchor, chosen)
        token = access.token

        def decision(state: State, session: Session | None, plan: tuple[SetCookie, ...],
                     reason: str) -> Decision:
            return Decision(state, session, username, refresh_tokens, plan, reason, family,
                            target, unknown, duplicates, details,
                            token.username if token is not None else None,
                            access.failures + id_pick.failures, digests)

        id_broken = id_pick.token is None and bool(id_pick.problems)
        hard_valid = (
            token is not None
            and token.exp > now
            and (id_pick.token is None or id_pick.token.exp > now)
        )
        session = Session(username, token, id_pick.token) if hard_valid and token else None
        stale_at = now * 1000 + drift_ms + self.refresh_margin * 1000
        expiring = token is None or id_broken or any(
            t.exp * 1000 < stale_at for t in (token, id_pick.token) if t is not None
        )
        if not expiring and session is not None:
            valid_until = min(session.expires_at - drift_ms / 1000 - self.refresh_margin,
                              session.expires_at)
            return decision(State.AUTHENTICATED, session, tidy, "valid tokens"), valid_until
        reason = "; ".join(access.problems + id_pick.problems) or "tokens expire"
        # Only a verified (if expired) access token earns a provider call, as in Amplify, where
        # a missing or unverifiable access token reads as "no tokens": otherwise anyone could
        # make us call Cognito once per made-up refresh token.
        if refresh_tokens and token is not None:
            return decision(State.NEEDS_REFRESH, session, tidy, reason), None
        if session is not None:
            return decision(State.AUTHENTICATED, session, tidy, "valid, no refresh token"), None
        if unknown:
            # We could not judge the tokens (JWKS out of reach): never log out on our own failure.
            return decision(State.ANONYMOUS, None, (), reason), None
        clear = self._clear_plan(family, target)
        missing = "no refresh token" if token is not None else "no verified access token"
        return decision(State.ANONYMOUS, None, clear, f"{reason}; {missing}"), None

    def _pick_user(self, family: CookieFamily, jwks: JwkSet) -> tuple[str, _Pick]:
        """The user whose access token verifies freshest; LastAuthUser decides ties."""
        users = family.last_auth_users()
        picks = [(u, self._pick(family.entries(u, "accessToken"), "access", jwks, None))
                 for u in users]
        valid = [(u, p) for u, p in picks if p.token is not None]
        if valid:
            return max(valid, key=lambda up: _freshness(up[1].token))
        return picks[0]

    def _pick(
        self,
        entries: Sequence[tuple[int, str]],
        use: TokenUse,
        jwks: JwkSet,
        partner: VerifiedToken | None,
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
                token = self.verifier.verify(value, use, jwks)
            except UnknownSigningKey as error:
                unknown.add(error.kid)
                problems.append(error.reason)
                continue
            except InvalidToken as error:
                problems.append(error.reason)
                failures += 1
                continue
            if partner is not None and token.claims.get("sub") != partner.claims.get("sub"):
                problems.append("id token belongs to another user")
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
        return Outcome(decision.session, decision.plan, decision.reason)

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
        access = self.verifier.verify(tokens.access_token, "access", jwks)
        id_token = (self.verifier.verify(tokens.id_token, "id", jwks)
                    if tokens.id_token is not None else None)
        builder = PlanBuilder(decision.target, self.policy, family.sent_counts)
        written = {LAST_AUTH_USER: username, "accessToken": tokens.access_token,
                   "refreshToken": tokens.refresh_token,
                   # Amplify's clockDrift: issuer time minus our time, in ms, at storage time.
                   "clockDrift": str(access.iat * 1000 - int(now * 1000))}
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
            builder.write(canonical, encode_value(value))
        if tokens.id_token is None:
            for raw in family.raw_names(username, "idToken"):
                builder.delete(raw)
        # idToken counts as rewritten either way: without a new one the old was just deleted.
        self._tidy(builder, family, username, None, {}, rewritten=(*written, "idToken"))
        session = Session(username, access, id_token)
        return Outcome(session, builder.build(), reason, tokens)

    # -- plans -----------------------------------------------------------------------------------

    def _name(self, username: str | None, field: str) -> str:
        if username is None:
            return self.keys.last_auth_user_name
        return self.keys.name(username, field)

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
                if field in SESSION_FIELDS:
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
                builder.write(canonical, encode_value(value))

    def _clear_plan(self, family: CookieFamily, target: RequestTarget) -> tuple[SetCookie, ...]:
        builder = PlanBuilder(target, self.policy, family.sent_counts)
        # Only names the browser sent: a cookie it did not send cannot path- or domain-match
        # this request, so no variant of it is reachable (or harmful) from here.
        # A clear is the last word (sign-out, rejected refresh): every spelling is swept, since a
        # lone copy under an unconfigured Domain would otherwise outlive the session.
        for copy in family.copies:
            if copy.field in SESSION_FIELDS or copy.field == LAST_AUTH_USER:
                builder.delete(copy.raw_name, sweep=True)
        return builder.build()


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


def _parse_drift(value: str | None) -> int:
    try:
        drift = int(value) if value is not None else 0
    except ValueError:
        return 0
    return drift if abs(drift) <= _MAX_DRIFT_MS else 0
