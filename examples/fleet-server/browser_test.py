#!/usr/bin/env python3
"""Drives headless Chromium through the dashboard over WebDriver (chromedriver), standard
library only. Started by browser-test.sh, which runs fleet-server and the demo fleet.

Checks: every page loads with no console errors; a rollout started through the API shows up
and advances on the page without a reload; the page's Pause button pauses it (the API agrees);
a read-only token sees no action buttons; every screenshot has content (checked by decoding it
in the browser's own canvas). Prints `browser: ok pages=N console_errors=0` on success.
"""

import argparse
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--window-size=1280,900",
    "--lang=en-GB",
]


def fail(msg):
    print(f"browser: FAIL {msg}", file=sys.stderr)
    sys.exit(1)


# How much longer than on an idle machine a wait may take.
SLACK = 4

def http(method, url, body=None, token=None, timeout=30):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw or b"{}")
        except ValueError:
            return e.code, {"raw": raw.decode(errors="replace")}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Browser:
    """A WebDriver session on chromedriver."""

    def __init__(self, chromium, chromedriver, profile):
        self.port = free_port()
        self.driver = subprocess.Popen(
            [chromedriver, f"--port={self.port}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        for _ in range(600):
            try:
                if http("GET", self.url + "/status", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        caps = {
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": {
                        "binary": chromium,
                        "args": FLAGS + [f"--user-data-dir={profile}"],
                    },
                    "goog:loggingPrefs": {"browser": "ALL"},
                }
            }
        }
        status, r = http("POST", self.url + "/session", caps, timeout=60)
        if status != 200:
            self.close()
            fail(f"chromedriver refused the session: {r}")
        self.sid = r["value"]["sessionId"]
        self.base = f"{self.url}/session/{self.sid}"

    def cmd(self, method, path, body=None):
        status, r = http(method, self.base + path, body, timeout=60)
        if status != 200:
            raise RuntimeError(f"webdriver {method} {path}: {status} {r}")
        return r.get("value")

    def go(self, url):
        self.cmd("POST", "/url", {"url": url})

    def js(self, script, *args):
        return self.cmd("POST", "/execute/sync", {"script": script, "args": list(args)})

    def js_async(self, script, *args):
        return self.cmd("POST", "/execute/async", {"script": script, "args": list(args)})

    def find(self, css):
        """The element's WebDriver id, or None."""
        status, r = http("POST", self.base + "/element", {"using": "css selector", "value": css})
        if status != 200:
            return None
        return next(iter(r["value"].values()))

    def click(self, css):
        # The pages redraw every 2 s, so an element found a moment ago may be gone: find it
        # again and retry a few times.
        for _ in range(10):
            el = self.find(css)
            if el is None:
                raise RuntimeError(f"no element {css}")
            status, r = http("POST", f"{self.base}/element/{el}/click", {})
            if status == 200:
                return
            if r.get("value", {}).get("error") != "stale element reference":
                raise RuntimeError(f"webdriver click {css}: {status} {r}")
            time.sleep(0.05)
        raise RuntimeError(f"{css} kept going stale")

    def type(self, css, text):
        el = self.find(css)
        if el is None:
            raise RuntimeError(f"no element {css}")
        self.cmd("POST", f"/element/{el}/value", {"text": text})

    def logs(self):
        return self.cmd("POST", "/se/log", {"type": "browser"}) or []

    def wait(self, what, script, timeout=30, *args):
        # CI runs this on a loaded 2-core machine; a wait that holds returns as soon as it holds.
        timeout *= SLACK
        deadline = time.time() + timeout
        while time.time() < deadline:
            v = self.js(script, *args)
            if v:
                return v
            time.sleep(0.2)
        text = self.js("return document.body.innerText.slice(0, 600)")
        fail(f"timed out after {timeout} s waiting for {what}; page says: {text!r}; console: {self.logs()}")

    def screenshot(self, path):
        # Grow the window to the page so the screenshot holds all of it.
        height = self.js("return Math.min(4000, Math.max(900, document.documentElement.scrollHeight))")
        self.cmd("POST", "/window/rect", {"width": 1280, "height": int(height)})
        time.sleep(0.3)
        png = base64.b64decode(self.cmd("GET", "/screenshot"))
        with open(path, "wb") as f:
            f.write(png)
        self.cmd("POST", "/window/rect", {"width": 1280, "height": 900})
        return png

    def close(self):
        try:
            if getattr(self, "sid", None):
                http("DELETE", self.base, timeout=10)
        finally:
            self.driver.terminate()
            try:
                self.driver.wait(10)
            except subprocess.TimeoutExpired:
                self.driver.kill()


# Runs in the browser: decodes a PNG in a canvas and measures it.
PNG_STATS = """
const [data, done] = arguments;
const img = new Image();
img.onload = () => {
  const c = document.createElement('canvas');
  c.width = img.width; c.height = img.height;
  const g = c.getContext('2d');
  g.drawImage(img, 0, 0);
  const px = g.getImageData(0, 0, c.width, c.height).data;
  const counts = new Map();
  for (let i = 0; i < px.length; i += 4) {
    const k = (px[i] >> 3) << 10 | (px[i + 1] >> 3) << 5 | (px[i + 2] >> 3);
    counts.set(k, (counts.get(k) || 0) + 1);
  }
  const total = px.length / 4;
  const top = Math.max(...counts.values());
  done({width: c.width, height: c.height, colors: counts.size, background: top / total});
};
img.onerror = () => done({error: 'not a PNG the browser can decode'});
img.src = 'data:image/png;base64,' + data;
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--operator", required=True)
    ap.add_argument("--reader", required=True)
    ap.add_argument("--factory", type=int, required=True)
    ap.add_argument("--candidate", type=int, required=True)
    ap.add_argument("--chromium", required=True)
    ap.add_argument("--chromedriver", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    profile = tempfile.mkdtemp(prefix="fleet-browser-")
    b = Browser(a.chromium, a.chromedriver, profile)
    pages = set()
    errors = []
    shots = []

    def check_console(page):
        for entry in b.logs():
            if entry.get("level") == "SEVERE":
                errors.append(f"{page}: {entry.get('message')}")

    def shot(name):
        path = os.path.join(a.out, f"{name}.png")
        b.screenshot(path)
        shots.append(path)

    try:
        # The public status page: no token.
        b.go(a.base + "/status")
        b.wait("the public status", "return document.querySelectorAll('#components li').length === 3 && document.getElementById('overall').className.includes('operational')")
        pages.add("status")
        check_console("status")
        shot("status")

        # Sign in as the operator.
        b.go(a.base + "/ui/")
        b.wait("the sign-in form", "return document.body.dataset.ready === 'login'")
        b.type("#token", a.operator)
        b.click("#login-button")
        b.wait("the fleet overview", "return document.body.dataset.ready === 'overview' && document.querySelectorAll('.kpi').length > 0")
        b.wait("devices online", "return [...document.querySelectorAll('.kpi')].some(k => k.innerText.includes('online') && parseInt(k.querySelector('.kpi-value').innerText) > 0)")
        check_console("overview")
        pages.add("overview")
        shot("overview")
        for view in ["alerts", "battery", "failures", "tickets"]:
            b.go(f"{a.base}/ui/#/{view}")
            b.wait(f"the {view} page", f"return document.body.dataset.ready === '{view}' && document.querySelector('#view h1') !== null")
            if b.js("return document.querySelector('#view .error') !== null"):
                said = b.js("return document.querySelector('#view .error').innerText")
                fail(f"{view} shows an error: {said}")
            check_console(view)
            pages.add(view)
        # Wait for the field-failure finding and the ticket trends to have content.
        b.go(f"{a.base}/ui/#/tickets")
        b.wait("ticket trends", "return document.body.dataset.ready === 'tickets' && document.querySelectorAll('#view table tbody tr').length >= 3")
        shot("tickets")
        b.go(f"{a.base}/ui/#/alerts")
        b.wait("alert rules", "return document.body.dataset.ready === 'alerts' && document.querySelectorAll('.playbook-action').length >= 1")
        shot("alerts")

        # Start a rollout through the API.
        plan = {
            "channel": "Stable",
            "flap": {"max_rollbacks": 2, "window_secs": 604800},
            "gates": [
                {"alpha_bp": 500, "baseline": None, "kind": {"FailureRatio": {"max_bp": 5000}}, "min_control_samples": 0,
                 "min_events": 0, "min_samples": 0, "mode": "Enforce", "pause_alpha_bp": 1000},
                {"alpha_bp": 100, "baseline": None, "kind": {"Tripwire": {"max": 0}}, "min_control_samples": 0,
                 "min_events": 0, "min_samples": 0, "mode": "Enforce", "pause_alpha_bp": 200},
            ],
            "rate": None,
            "stages": [
                {"gates": 255, "manual_approval": False, "min_reported_bp": 6000, "min_trials": 0, "size": {"Devices": 20}, "soak_secs": 4},
                {"gates": 255, "manual_approval": False, "min_reported_bp": 6000, "min_trials": 0, "size": {"Percent": 5000}, "soak_secs": 30},
                {"gates": 255, "manual_approval": False, "min_reported_bp": 6000, "min_trials": 0, "size": {"Percent": 10000}, "soak_secs": 4},
            ],
            "window": None,
        }
        status, r = http("POST", a.base + "/v1/rollouts",
                         {"release_id": a.candidate, "previous_release_id": a.factory, "plan": plan}, a.operator)
        if status != 201:
            fail(f"the API refused the rollout: {status} {r}")
        rid = r["id"]

        # It shows up in the list; the link opens its page.
        b.go(f"{a.base}/ui/#/rollouts")
        b.wait("the rollout in the list", "return document.querySelector('a.rollout-link[data-id=\"' + arguments[0] + '\"]') !== null", 20, rid)
        check_console("rollouts")
        pages.add("rollouts")
        shot("rollouts")
        b.click(f"a.rollout-link[data-id=\"{rid}\"]")
        b.wait("the rollout page", "return document.body.dataset.ready === 'rollouts' && document.getElementById('phase-words') !== null")
        # It advances while we watch (no reload): stage 2 opens after the first stage's soak.
        b.wait("stage 2 to open", "return document.getElementById('phase-words').innerText.includes('in stage 2')", 90)
        b.wait("a gate plot", "return document.querySelectorAll('.gate svg .threshold').length >= 2")
        check_console("rollout")
        pages.add("rollout")
        shot("rollout-running")

        # Pause from the page.
        b.wait("the pause button", "return document.getElementById('pause') !== null")
        b.click("#pause")
        b.wait("the page to show paused", "return document.getElementById('resume') !== null && document.getElementById('phase-words').innerText.includes('paused')", 20)
        status, r = http("GET", f"{a.base}/v1/rollouts/{rid}", token=a.reader)
        if r["rollout"]["phase"] != "paused":
            fail(f"the API says {r['rollout']['phase']} after the page paused the rollout")
        log = http("GET", f"{a.base}/v1/rollouts/{rid}/decisions", token=a.reader)[1]["decisions"]
        if not any(d["action"] == "pause" and d["source"] == "operator" for d in log):
            fail(f"no operator pause in the decision log: {[(d['source'], d['action']) for d in log]}")
        b.wait("the pause in the decision log", "return document.querySelector('.log').innerText.includes('An operator paused the rollout')")
        check_console("rollout paused")
        shot("rollout-paused")

        # A read-only token sees no action buttons.
        b.js("sessionStorage.clear()")
        b.go(f"{a.base}/ui/#/rollouts/{rid}")
        b.wait("the sign-in form", "return document.body.dataset.ready === 'login'")
        b.type("#token", a.reader)
        b.click("#login-button")
        b.wait("the rollout page, read-only", "return document.body.dataset.ready === 'rollouts' && document.getElementById('phase-words') !== null && document.getElementById('who').innerText === 'read-only'")
        time.sleep(2.5)  # one more refresh: buttons must not appear later either
        buttons = b.js("return [...document.querySelectorAll('#view button')].map(b => b.id || b.innerText)")
        if buttons:
            fail(f"a read-only token sees buttons: {buttons}")
        if b.js("return document.getElementById('actions') !== null"):
            fail("a read-only token sees the action bar")
        check_console("rollout read-only")
        shot("rollout-readonly")
        b.go(f"{a.base}/ui/#/failures")
        b.wait("field failures", "return document.body.dataset.ready === 'failures'")
        shot("failures")
        b.go(f"{a.base}/ui/#/battery")
        b.wait("battery", "return document.body.dataset.ready === 'battery' && document.querySelectorAll('#view svg rect').length > 0")
        shot("battery")
        check_console("read-only pages")

        # Screenshots: decoded by the browser, measured for content.
        b.go("about:blank")
        for path in shots:
            with open(path, "rb") as f:
                data = base64.b64encode(f.read()).decode()
            s = b.js_async(PNG_STATS, data)
            if "error" in s:
                fail(f"{path}: {s['error']}")
            if s["colors"] < 16 or s["background"] > 0.985:
                fail(f"{path} looks blank: {s}")
            print(f"screenshot {os.path.basename(path)}: {s['width']}x{s['height']}, {s['colors']} colours, background {s['background']:.1%}")
    finally:
        b.close()
        shutil.rmtree(profile, ignore_errors=True)

    for e in errors:
        print(f"console error: {e}", file=sys.stderr)
    if errors:
        print(f"browser: FAIL pages={len(pages)} console_errors={len(errors)}")
        sys.exit(1)
    print(f"browser: ok pages={len(pages)} console_errors=0")


if __name__ == "__main__":
    main()
