"""The sample's HTML report in headless Chromium, served under the policy Jenkins serves build
artifacts with: every figure is laid out with a size, and the page renders with its `<style>`
refused.

The browser is driven over the DevTools protocol on `--remote-debugging-pipe` (JSON messages
ended by NUL, commands on fd 3, replies on fd 4), with only the standard library. Boxes are read
with the DOM domain, which runs no script in the page: under `sandbox` the page may run none.

`python tests/reports/test_html_chromium.py` writes the screenshot the README shows,
docs/img/html-report.png.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sample_html import sample_verdict

from gate.reports import render_html

# What Jenkins sends with every archived artifact (its default policy).
JENKINS_CSP = "sandbox; default-src 'none'; img-src 'self'; style-src 'self';"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--remote-debugging-pipe",
)
WIDTH = 1280
# Seconds the whole browser session may take; a normal run takes 2 to 4.
DEADLINE_S = 40.0
REPO = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO / "docs" / "img" / "html-report.png"


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("chromium is not on PATH (Debian: apt-get install chromium)")


def _browser() -> str:
    """Chromium, and bash to hand it the protocol's pipe; the test skips without either."""
    chromium = _chromium()
    if shutil.which("bash") is None:
        pytest.skip("bash is not on PATH: it hands Chromium the DevTools pipe")
    return chromium


class _Artifact(BaseHTTPRequestHandler):
    """Serves one page at /report.html with the Jenkins artifact headers; nothing else."""

    page: ClassVar[bytes] = b""
    served: ClassVar[list[dict[str, str]]] = []

    def do_GET(self) -> None:
        if self.path != "/report.html":
            self.send_error(404)
            return
        self.send_response(200)
        headers = {
            "Content-Type": "text/html; charset=utf-8",
            "Content-Security-Policy": JENKINS_CSP,
            "X-Content-Type-Options": "nosniff",
            "Content-Length": str(len(self.page)),
        }
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(self.page)
        self.served.append(headers)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests say what went wrong."""


@contextmanager
def _serve(page: str) -> Iterator[tuple[str, list[dict[str, str]]]]:
    handler = type("Handler", (_Artifact,), {"page": page.encode("utf-8"), "served": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/report.html", handler.served
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _above_9(fd: int) -> int:
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return moved


class _DevTools:
    """A DevTools protocol client on the browser's pipe: commands and the events seen."""

    def __init__(self, chromium: str, profile: Path) -> None:
        commands_r, self._commands = os.pipe()
        self._replies, replies_w = os.pipe()
        # The browser expects the pipe on fds 3 and 4: bash puts them there (dash takes only
        # one-digit fds), from fds
        # numbered 10 and up, so that neither end already is 3 or 4 (a redirection of an fd
        # onto itself would leave it closed on exec).
        commands_r, replies_w = _above_9(commands_r), _above_9(replies_w)
        script = f'exec "$@" 3<&{commands_r} 4>&{replies_w} {commands_r}<&- {replies_w}>&-'
        self.process = subprocess.Popen(
            ["bash", "-c", script, "bash", chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}"],
            pass_fds=(commands_r, replies_w),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(commands_r)
        os.close(replies_w)
        self._inbox: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        self.deadline = time.monotonic() + DEADLINE_S

    def _read(self) -> None:
        buffer = b""
        while True:
            chunk = os.read(self._replies, 1 << 16)
            if not chunk:
                self._inbox.put(None)
                return
            buffer += chunk
            *messages, buffer = buffer.split(b"\0")
            for message in messages:
                self._inbox.put(json.loads(message))

    def _message(self) -> dict[str, Any]:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"Chromium did not answer within {DEADLINE_S:.0f} s")
        try:
            message = self._inbox.get(timeout=left)
        except queue.Empty:
            raise TimeoutError(f"Chromium did not answer within {DEADLINE_S:.0f} s") from None
        if message is None:
            raise RuntimeError(f"Chromium closed its pipe (exit code {self.process.poll()})")
        return message

    def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        request: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session is not None:
            request["sessionId"] = session
        os.write(self._commands, json.dumps(request).encode("utf-8") + b"\0")
        while True:
            message = self._message()
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, method: str) -> dict[str, Any]:
        seen = next((e for e in self.events if e.get("method") == method), None)
        while seen is None:
            message = self._message()
            self.events.append(message)
            if message.get("method") == method:
                seen = message
        return seen

    def close(self) -> None:
        with suppress(RuntimeError, TimeoutError, OSError):
            self.call("Browser.close")
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        os.close(self._commands)
        self._reader.join(5)
        os.close(self._replies)


# The figures a reader sees without unfolding anything: each failing or warning driver's
# section (its timeline, its icicles) and the totals; and every figure of the page.
_FIGURES = {
    "open": 'section[id^="driver-"] svg, #totals svg',
    "all": "svg",
}


def _box(tools: _DevTools, session: str, node: int) -> tuple[float, float]:
    """The laid-out width and height of an element; (0, 0) when it has no box."""
    try:
        model = tools.call("DOM.getBoxModel", session, nodeId=node)["model"]
    except RuntimeError:  # "Could not compute box model": not rendered
        return (0.0, 0.0)
    return (float(model["width"]), float(model["height"]))


def _render(url: str, *, width: int = WIDTH, down_to: str | None = None) -> dict[str, Any]:
    """Open `url` in a fresh headless Chromium `width` pixels wide; returns the figures'
    laid-out boxes, the console's messages, the page's height and a PNG (base64) of the page,
    or of its top down to the first element matching the selector `down_to`."""
    chromium = _browser()
    with tempfile.TemporaryDirectory(prefix="gate-chromium-") as profile:
        tools = _DevTools(chromium, Path(profile))
        try:
            target = tools.call("Target.createTarget", url="about:blank")["targetId"]
            session = tools.call("Target.attachToTarget", targetId=target, flatten=True)[
                "sessionId"
            ]
            tools.call("Page.enable", session)
            tools.call("Log.enable", session)
            tools.call(
                "Emulation.setDeviceMetricsOverride",
                session,
                width=width,
                height=900,
                deviceScaleFactor=1,
                mobile=False,
            )
            tools.call("Page.navigate", session, url=url)
            tools.wait_for("Page.loadEventFired")
            root = tools.call("DOM.getDocument", session, depth=0)["root"]["nodeId"]
            boxes = {}
            for name, selector in _FIGURES.items():
                found = tools.call("DOM.querySelectorAll", session, nodeId=root, selector=selector)
                boxes[name] = [_box(tools, session, node) for node in found["nodeIds"]]
            metrics = tools.call("Page.getLayoutMetrics", session)
            height = int(metrics["cssContentSize"]["height"])
            shot_height = height
            if down_to is not None:
                node = tools.call("DOM.querySelector", session, nodeId=root, selector=down_to)
                quad = tools.call("DOM.getBoxModel", session, nodeId=node["nodeId"])["model"]
                shot_height = min(height, int(max(quad["border"][1::2])) + 12)
            shot = tools.call(
                "Page.captureScreenshot",
                session,
                format="png",
                captureBeyondViewport=True,
                clip={"x": 0, "y": 0, "width": width, "height": shot_height, "scale": 1},
            )["data"]
            logs = [
                e["params"]["entry"]
                for e in tools.events
                if e.get("method") == "Log.entryAdded" and e.get("sessionId") == session
            ]
        finally:
            tools.close()
    return {"boxes": boxes, "height": height, "png": shot, "logs": logs}


@pytest.fixture(scope="module")
def rendered() -> dict[str, Any]:
    _browser()
    page = render_html(sample_verdict())
    with _serve(page) as (url, served):
        result = _render(url)
    assert served and served[0]["Content-Security-Policy"] == JENKINS_CSP
    result["page"] = page
    return result


def test_every_figure_is_laid_out_with_a_size(rendered: dict[str, Any]) -> None:
    page, boxes = rendered["page"], rendered["boxes"]
    # Every <svg> of the page reached the DOM (a figure the parser dropped would be missing).
    assert len(boxes["all"]) == page.count("<svg ") > 0
    # The figures shown without unfolding anything: one timeline per failing or warning
    # driver, its icicles, the totals' timeline; each laid out at its drawn size or close.
    shown = boxes["open"]
    timelines = page.count('<figure class="timeline"') - page.count('<details id="timeline-')
    icicles = page.count('<figure class="icicle">')
    assert len(shown) == timelines + icicles
    assert all(w >= 300 and h >= 80 for w, h in shown), shown


def test_the_page_renders_under_the_policy_that_refuses_its_style(
    rendered: dict[str, Any],
) -> None:
    # The policy is in force: the browser says it refused the inline <style> ...
    refused = [e["text"] for e in rendered["logs"] if "style" in e.get("text", "")]
    assert refused, rendered["logs"]
    # ... and nothing else: no fetch, no script, no image was attempted.
    others = [e["text"] for e in rendered["logs"] if e not in refused and e["level"] == "error"]
    assert not [t for t in others if "Refused" in t], others
    # The screenshot is a real PNG of the laid-out page.
    png = base64.b64decode(rendered["png"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    assert rendered["height"] > 2000


def main() -> None:
    """Write docs/img/html-report.png: the sample's page as a reviewer sees it under the
    Jenkins policy, from its top down to the first failing driver's timeline."""
    page = render_html(sample_verdict())
    with _serve(page) as (url, _):
        result = _render(url, width=1100, down_to='section[id^="driver-"] figure.timeline')
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    SCREENSHOT.write_bytes(base64.b64decode(result["png"]))
    print(f"{SCREENSHOT}: {SCREENSHOT.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
