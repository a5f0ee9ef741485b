"""``ssrauth audit`` on HARs and cookie exports that a real Chromium made against the demo.

The seed bug is made in the browser (copies of the auth cookies at ``/orders``, host-only, next
to the demo's ``Domain=example.test`` ones); the HAR records the request that carried them
before the server's answer healed the jar. The audit's heal lines are then replayed into a fresh
browser holding the same bug, through a route that only returns them as Set-Cookie headers, and
the browser's own jar must end with one copy of each cookie.

``SSRAUTH_WRITE_FIXTURES=1`` also rewrites tests/fixtures/seed-bug.har, the sample the docs
show, from the recording (:func:`write_sample_har`).
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, Route

from ssrauth.cli import main
from tests.browser.chromium import APP_HOST, SITE, Demo, auth_cookies

FIXTURE = Path(__file__).parents[1] / "fixtures" / "seed-bug.har"
#: The demo's cookie policy, as the audit must be told it (plain http, Domain=example.test).
POLICY_ARGS = ["--cookie-domain", SITE, "--insecure"]
HEAL_PATH = "/__heal"


def sign_in(context: BrowserContext, demo: Demo) -> Page:
    page = context.new_page()
    page.goto(demo.url + "/")
    page.fill("input[name=username]", demo.username)
    page.fill("input[name=password]", demo.password)
    page.click("button[type=submit]")
    page.wait_for_url("**/dashboard")
    return page


def seed_bug(context: BrowserContext) -> list[dict[str, Any]]:
    """Host-only copies of every auth cookie at /orders (a pathless write from /orders/42) and
    of the access token at / (a writer without the Domain setting); returns the buggy jar."""
    canonical = auth_cookies(context)
    copies = [{"name": c["name"], "value": c["value"], "domain": APP_HOST, "path": "/orders"}
              for c in canonical]
    access = next(c for c in canonical if c["name"].endswith(".accessToken"))
    copies.append({"name": access["name"], "value": access["value"], "domain": APP_HOST,
                   "path": "/"})
    context.add_cookies(copies)  # type: ignore[arg-type]
    return [dict(c) for c in context.cookies()]


def audit(capsys: pytest.CaptureFixture[str], source: Path, demo: Demo) -> tuple[int, Any]:
    code = main(["audit", str(source), "--json", *POLICY_ARGS, "--now", str(demo.clock.now())])
    return code, json.loads(capsys.readouterr().out)


def families(report: Any) -> list[tuple[str, str, list[str]]]:
    return [(f["client_id"], f["user"], sorted(d["field"] for d in f["duplicates"]))
            for f in report["families"]]


def test_seed_bug_har_is_diagnosed_and_its_heal_lines_heal_a_browser(
    new_context: Callable[..., BrowserContext], demo: Demo, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    har = tmp_path / "seed-bug.har"
    context = new_context(record_har_path=str(har), record_har_content="omit")
    page = sign_in(context, demo)
    seed_bug(context)
    # The session then expires and is refreshed from /dashboard, whose requests do not carry
    # the /orders copies: those now hold the old tokens, as after the seed bug's refreshes.
    demo.clock.advance(3601)
    assert page.evaluate("async () => (await fetch('/api/me')).status") == 200
    assert demo.emulator.refresh_calls() == 1
    buggy = [dict(c) for c in context.cookies()]
    page.goto(demo.url + "/orders/42")  # recorded with the copies; its answer heals the jar
    context.close()  # writes the HAR

    code, report = audit(capsys, har, demo)

    assert code == 1
    assert report["path"] == "/orders/42"
    assert report["host"].startswith(APP_HOST)
    [family] = report["families"]
    assert family["client_id"] == demo.client_id
    assert family["user"] == demo.username
    fields = Counter(d["field"] for d in family["duplicates"])
    assert fields["accessToken"] == 1
    assert fields["idToken"] == 1
    access = next(d for d in family["duplicates"] if d["field"] == "accessToken")
    # The host-only copy at / travelled with the refresh and was healed by it; the /orders
    # copies never reach /dashboard's requests and are left for the recorded one.
    assert len(access["copies"]) == 2
    assert access["browser"] == access["copies"][0]  # the /orders copy, sent first
    # Split brain: Amplify in the page would read the stale /orders token, the server keeps
    # the refreshed one, and the heal lines write that one back.
    assert access["server"] == access["copies"][1] != access["browser"]
    assert family["heal"]

    healed = replay(new_context, demo, buggy, family["heal"])
    names = Counter(c["name"] for c in healed)
    assert names
    assert all(n == 1 for n in names.values()), names
    assert {(c["domain"], c["path"]) for c in healed} == {("." + SITE, "/")}
    assert sorted(names) == sorted({c["name"] for c in buggy if c["name"] in names})

    sample = write_sample_har(har, tmp_path / "sample.har", demo)
    code, trimmed = audit(capsys, sample, demo)
    assert code == 1
    assert trimmed["families"] == report["families"]
    if os.environ.get("SSRAUTH_WRITE_FIXTURES"):
        FIXTURE.parent.mkdir(exist_ok=True)
        shutil.copyfile(sample, FIXTURE)


def replay(new_context: Callable[..., BrowserContext], demo: Demo, jar: list[dict[str, Any]],
           heal: list[str]) -> list[dict[str, Any]]:
    """A fresh browser holding ``jar`` receives ``heal`` as one response's Set-Cookie headers
    (from a route, never the demo server); returns its auth cookies afterwards."""
    context = new_context()
    context.add_cookies(jar)  # type: ignore[arg-type]

    def fulfil(route: Route) -> None:
        route.fulfill(status=200, body="healed", headers={"set-cookie": "\n".join(heal)})

    context.route(f"**{HEAL_PATH}", fulfil)
    context.new_page().goto(demo.url + HEAL_PATH)
    return auth_cookies(context)


def test_healthy_har_exits_0_and_an_export_shows_the_same_families(
    new_context: Callable[..., BrowserContext], demo: Demo, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    har = tmp_path / "healthy.har"
    context = new_context(record_har_path=str(har), record_har_content="omit")
    sign_in(context, demo)
    export = tmp_path / "cookies.json"
    export.write_text(json.dumps(seed_bug(context)))
    context.close()

    code, healthy = audit(capsys, har, demo)
    export_code, exported = audit(capsys, export, demo)

    assert code == 0, healthy["findings"]
    assert families(healthy) == [(demo.client_id, demo.username, [])]
    assert export_code == 1
    assert exported["order"] == "derived"
    assert exported["path"] == "/orders"
    [(client_id, user, duplicated)] = families(exported)
    assert (client_id, user) == (demo.client_id, demo.username)
    assert {"accessToken", "idToken", "refreshToken", "LastAuthUser"} <= set(duplicated)


def write_sample_har(recorded: Path, dest: Path, demo: Demo) -> Path:
    """The committed sample: the one request the audit picks from ``recorded``, with only its
    method, URL and Cookie header (no user agent, no timings), the port fixed to 8000, and the
    time to audit it at in ``log.comment``."""
    entries = json.loads(recorded.read_text())["log"]["entries"]

    def auth_count(entry: dict[str, Any]) -> int:
        return sum(c["name"].startswith("CognitoIdentityServiceProvider.")
                   for c in entry["request"].get("cookies", []))

    chosen = max(entries, key=auth_count)["request"]
    port = demo.url.rsplit(":", 1)[1]
    cookie = [h for h in chosen["headers"] if h["name"].lower() == "cookie"]
    request = {"method": chosen["method"], "url": chosen["url"].replace(f":{port}/", ":8000/"),
               "httpVersion": chosen["httpVersion"], "headers": cookie, "cookies": [],
               "queryString": [], "headersSize": -1, "bodySize": 0}
    document = {"log": {
        "version": "1.2", "creator": {"name": "tests/browser/test_audit_har.py", "version": "1"},
        "comment": f"recorded by Chromium against the ssrauth demo; now={int(demo.clock.now())}",
        "entries": [{"startedDateTime": "2025-01-01T00:00:00.000Z", "time": 0,
                     "request": request, "response": {}, "cache": {}, "timings": {}}]}}
    dest.write_text(json.dumps(document, indent=1) + "\n")
    return dest
