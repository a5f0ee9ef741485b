"""The ``ssrauth`` command. Today one subcommand, ``audit``: the I/O edge around the pure
analysis in :mod:`ssrauth._audit.analysis` (reading files and stdin, fetching the pool's or
the OpenID Connect issuer's JWKS, printing text or JSON, choosing the exit code).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

from ._audit.analysis import AUTH_PREFIXES, AuditReport, FamilyReport, PoolKeys, audit
from ._audit.sources import SourceError, read_source
from ._config.cognito import CognitoConfig
from ._config.oidc import OidcConfig
from ._config.scheme import scheme_of
from ._core.clock import SystemClock
from ._core.cookies import CookiePolicy
from ._core.errors import ConfigError, ProviderError
from ._core.keys import FALLBACK_USERNAME, OIDC_PREFIX
from ._providers.jwks import verification
from ._providers.oidc import OidcProvider

__all__ = ["main"]

EXIT_HEALTHY = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2

AUDIT_HELP = """\
Audit the auth cookies of one request: Amplify's Cognito families
(CognitoIdentityServiceProvider.<clientId>.*) and ssrauth's OpenID Connect families
(ssrauth.<clientId>.*, or --prefix). The input is a Cookie header (argument or stdin), a HAR
exported from browser devtools, or a Playwright/Chromium cookie export (context.cookies() or
storage_state JSON); the format is detected from the content.

Reports every family on its own: duplicates (and which copy js-cookie in the browser, a
last-copy-wins server and ssrauth would each use), other users' leftover sessions, expired,
unreadable or (with a pool or provider config) invalid tokens, and sizes against 4096 bytes
per cookie and 8192 for the Cookie header (nginx); then prints the exact Set-Cookie lines
ssrauth would send to heal the jar. Cookies of no family are never touched. Without a config
tokens are read offline by their family's rules (Cognito: the access token authenticates;
OIDC: the id token does, expiresAt dates an opaque access token).

exit codes:
  0  healthy: nothing to heal, no size limit passed, every token copy readable (and valid
     with a pool or provider config; an opaque OIDC access token is fine). An expired
     session that has a refresh token is a warning only: the server refreshes it on the
     next request.
  1  problems: the server would send heal lines (duplicates, another user's session, odd
     name spellings, a dead session it clears), a cookie over 4096 bytes, a Cookie header
     over 8192 bytes, or a token copy that is unreadable or fails verification.
  2  usage or input error (unreadable file, bad JSON, no cookies, bad config).
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (the console script exits with it)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command != "audit":
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return _audit(args, sys.stdout, os.environ)
    except (SourceError, ConfigError, OSError, ValueError) as error:
        print(f"ssrauth audit: {error}", file=sys.stderr)
        return EXIT_USAGE


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ssrauth", description="ssrauth tools.")
    commands = parser.add_subparsers(dest="command")
    cmd = commands.add_parser(
        "audit", help="audit a browser's auth cookies", description=AUDIT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    cmd.add_argument("source", nargs="?", default="-",
                     help="a HAR, cookie-export JSON or Cookie-header file; '-' (default) reads "
                     "stdin")
    cmd.add_argument("--cookie-header", metavar="TEXT", help="audit this Cookie header instead")
    cmd.add_argument("--host", help="request host (a Cookie header does not say; needed to "
                     "delete Domain copies)")
    cmd.add_argument("--path", help="request path (default: from the HAR, the deepest auth "
                     "cookie path of an export, or /)")
    cmd.add_argument("--json", action="store_true", help="print the report as JSON")
    pool = cmd.add_argument_group(
        "pool or provider config (verifies token signatures; without these options the "
        "SSRAUTH_* environment variables are used: a Cognito pool when SSRAUTH_USER_POOL_ID or "
        "SSRAUTH_AMPLIFY_OUTPUTS is set, an OIDC provider when SSRAUTH_OIDC_ISSUER is)")
    pool.add_argument("--config", metavar="AMPLIFY_OUTPUTS", help="amplify_outputs.json")
    pool.add_argument("--user-pool-id")
    pool.add_argument("--client-id", help="the app client id (with --user-pool-id, --config "
                      "or --oidc-issuer)")
    pool.add_argument("--region")
    pool.add_argument("--oidc-issuer", metavar="URL", help="an OpenID Connect issuer: its JWKS "
                      "is found through URL/.well-known/openid-configuration (needs --client-id)")
    pool.add_argument("--audience", help="with --oidc-issuer: the resource-server audience of "
                      "RFC 9068 JWT access tokens (OidcConfig.audience); without it access "
                      "tokens are opaque")
    pool.add_argument("--prefix", help="an OIDC cookie prefix besides 'ssrauth' "
                      "(OidcConfig.cookie_prefix); also the prefix of the provider config")
    policy = cmd.add_argument_group("cookie policy of the heal lines (default: the config's, "
                                    "else Amplify's: Path=/, host-only, Secure)")
    policy.add_argument("--cookie-domain", help="the Domain your server writes cookies with")
    policy.add_argument("--insecure", action="store_true",
                        help="no Secure attribute (plain-http development servers)")
    cmd.add_argument("--now", type=float, metavar="EPOCH",
                     help="judge expiry at this time (reproducible runs)")
    return parser


def _audit(args: argparse.Namespace, out: TextIO, environ: Mapping[str, str]) -> int:
    text, label = _read_input(args)
    configs = _configs(args, environ)
    prefixes = tuple(dict.fromkeys([*AUTH_PREFIXES, *([args.prefix] if args.prefix else []),
                                    *(c.cookie_prefix for c in configs
                                      if isinstance(c, OidcConfig))]))
    observation = read_source(text, label=label, host=args.host, path=args.path,
                              prefixes=prefixes)
    policy = configs[0].cookie_policy if configs else CookiePolicy()
    if args.cookie_domain is not None:
        policy = dataclasses.replace(policy, domain=args.cookie_domain or None)
    if args.insecure:
        policy = dataclasses.replace(policy, secure=False)
    pools, errors = [], []
    for config in configs:
        pool, error = _pool_keys(config)
        pools += [pool] if pool is not None else []
        errors += [error] if error is not None else []
    now = args.now if args.now is not None else time.time()
    report = audit(observation, now=now, policy=policy, pools=pools, pool_errors=errors,
                   prefixes=prefixes)
    if args.json:
        json.dump(report.to_json(), out, indent=2)
        out.write("\n")
    else:
        out.write(render_text(report))
    return EXIT_HEALTHY if report.healthy else EXIT_PROBLEMS


def _read_input(args: argparse.Namespace) -> tuple[str, str]:
    if args.cookie_header is not None:
        return args.cookie_header, "--cookie-header"
    if args.source == "-":
        return sys.stdin.read(), "stdin"
    try:
        return Path(args.source).read_text(encoding="utf-8", errors="replace"), args.source
    except OSError as error:
        raise SourceError(f"cannot read {args.source}: {error.strerror or error}") from None


def _configs(
    args: argparse.Namespace, environ: Mapping[str, str]
) -> list[CognitoConfig | OidcConfig]:
    """The configs whose keys verify families: the options' one, else the environment's (a
    Cognito pool, an OIDC provider, or both, as a deployment with both would have)."""
    if args.audience and not args.oidc_issuer:
        raise ConfigError("--audience goes with --oidc-issuer")
    if args.oidc_issuer:
        if args.config or args.user_pool_id or args.region:
            raise ConfigError("--oidc-issuer does not combine with a Cognito pool's options")
        if not args.client_id:
            raise ConfigError("--oidc-issuer and --client-id go together")
        return [OidcConfig(issuer=args.oidc_issuer, client_id=args.client_id,
                           audience=args.audience or None,
                           cookie_prefix=args.prefix or OIDC_PREFIX)]
    cognito = _pool_config(args, environ)
    if cognito is not None and (args.config or args.user_pool_id):
        return [cognito]
    configs: list[CognitoConfig | OidcConfig] = [] if cognito is None else [cognito]
    if environ.get("SSRAUTH_OIDC_ISSUER"):
        oidc = OidcConfig.from_env(environ)
        configs.append(oidc.with_changes(cookie_prefix=args.prefix) if args.prefix else oidc)
    return configs


def _pool_config(args: argparse.Namespace, environ: Mapping[str, str]) -> CognitoConfig | None:
    overrides = {"region": args.region} if args.region else {}
    if args.config:
        if args.client_id:
            overrides["client_id"] = args.client_id
        return CognitoConfig.from_amplify_outputs(args.config, **overrides)
    if args.user_pool_id or args.client_id:
        if not (args.user_pool_id and args.client_id):
            raise ConfigError("--user-pool-id and --client-id go together")
        return CognitoConfig(user_pool_id=args.user_pool_id, client_id=args.client_id,
                             **overrides)
    if environ.get("SSRAUTH_USER_POOL_ID") or environ.get("SSRAUTH_AMPLIFY_OUTPUTS"):
        return CognitoConfig.from_env(environ)
    return None


def _pool_keys(config: CognitoConfig | OidcConfig) -> tuple[PoolKeys | None, str | None]:
    """Fetch the JWKS once (an OIDC issuer's through discovery), with the verifier and cookie
    scheme a server with this config builds; a failure is reported in the audit, never a
    traceback."""
    scheme = scheme_of(config)
    discovery = OidcProvider(config) if isinstance(config, OidcConfig) else None
    verifier, source = verification(config, scheme, discovery, clock=SystemClock())
    try:
        jwks = source.fetch()
    except ProviderError as error:  # its message names the URL it tried
        return None, str(error)
    return PoolKeys(scheme, verifier, jwks), None


# -- text output ----------------------------------------------------------------------------


def render_text(report: AuditReport) -> str:
    """The human report: plain aligned text, widest column first, no colour codes."""
    lines = [f"source   {report.source}",
             f"request  host {report.host or '(unknown)'}  path {report.path}  "
             f"order: {'as sent' if report.order == 'header' else 'derived from paths'}",
             f"cookies  {report.cookies} sent ({report.cookies - report.unrelated} auth, "
             f"{report.unrelated} other)  Cookie header {report.header_bytes} bytes "
             f"(nginx limit 8192)  heal block {report.heal_bytes} bytes"]
    for family in report.families:
        lines += ["", *_family_text(family)]
    lines += ["", "findings"]
    width = max((len(f.code) for f in report.findings), default=0)
    for finding in report.findings:
        where = f" [{finding.client_id}]" if finding.client_id else ""
        lines.append(f"  {finding.level.upper():<8} {finding.code:<{width}}  "
                     f"{finding.message}{where}")
    problems = sum(f.level == "problem" for f in report.findings)
    warnings = sum(f.level == "warning" for f in report.findings)
    verdict = "healthy" if report.healthy else "UNHEALTHY"
    lines += ["", f"verdict: {verdict} ({problems} problems, {warnings} warnings)", ""]
    return "\n".join(lines)


def _family_text(family: FamilyReport) -> list[str]:
    checked = "the provider" if family.provider == "oidc" else "the pool"
    mode = f"tokens verified against {checked}" if family.verified else "tokens read offline"
    lines = [f"client {family.client_id} ({family.prefix}, {family.provider}): {mode}",
             f"  {_whose_session(family)}: {family.state} ({family.reason})"]
    prefix = f"{family.prefix}.{family.client_id}."
    rows = [("#", "cookie", "bytes", "path", "domain", "token", "sha256")]
    for c in family.copies:
        name = c.name[len(prefix):] if c.name.startswith(prefix) else c.name
        domain = "" if c.domain is None else (c.domain + (" (host-only)" if c.host_only else ""))
        token = "" if c.token is None else (
            f"{c.token.status}" + (f" exp {c.token.exp}" if c.token.exp is not None else ""))
        rows.append((str(c.position), name, str(c.size), c.path or "", domain, token,
                     c.fingerprint))
    lines += _aligned(rows, indent="  ")
    for dup in family.duplicates:
        def at(position: int | None) -> str:
            return "unknown" if position is None else f"#{position}"
        label = dup.field if dup.username is None else f"{dup.username}.{dup.field}"
        lines.append(f"  duplicate {label}: copies {', '.join(map(at, dup.copies))}; browser "
                     f"(js-cookie, first) {at(dup.browser)}; last-wins servers (Next.js edge) "
                     f"{at(dup.last)}; ssrauth {at(dup.server)} ({dup.server_rule})")
    if family.stale_users:
        lines.append(f"  stale users: {', '.join(family.stale_users)}")
    if family.heal:
        lines.append(f"  heal ({len(family.heal)} Set-Cookie lines, deletions first):")
        lines += [f"    Set-Cookie: {line}" for line in family.heal]
    return lines


def _whose_session(family: FamilyReport) -> str:
    """Which user the server reads, said honestly when no LastAuthUser was sent: Amplify's
    ``getLastAuthUser`` then falls back to the literal ``username``, a placeholder, not a user."""
    if family.last_auth_user:
        return f"LastAuthUser {', '.join(family.last_auth_user)}; server uses {family.user!r}"
    if family.user == FALLBACK_USERNAME:
        return f"no LastAuthUser: Amplify would use the placeholder {FALLBACK_USERNAME!r}"
    return f"no LastAuthUser; server uses {family.user!r}"


def _aligned(rows: Sequence[tuple[str, ...]], indent: str) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [indent + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            for row in rows]
