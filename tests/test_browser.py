"""The control page in a real headless Chromium, driven over the DevTools protocol (CDP).

The server runs on 127.0.0.1 fed by the real pipeline on a file-backed camera
(test_server.FedServer). The test moves the strength slider and clicks the preview as a
user would (real mouse and key events), then checks the next streamed frames and the
server's settings, and that a screenshot shows the live preview. CDP is spoken with
aiohttp's websocket client (already a dependency): no browser driver, no npm.
Skipped when no Chromium is installed (Debian: apt-get install chromium).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import shutil
import subprocess
import time
from pathlib import Path

import aiohttp
import cv2
import numpy as np
import pytest
import requests

from test_server import distance_to_clip, fed_server, rgb_of, stream_parts

CHROMIUM = next((shutil.which(name) for name in ("chromium", "chromium-browser",
                                                 "google-chrome") if shutil.which(name)), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None,
                                reason="no Chromium installed (apt-get install chromium)")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--mute-audio",
                  "--window-size=1280,900", "--remote-debugging-port=0")


@contextlib.contextmanager
def chromium(profile: Path):
    """Headless Chromium for the block; yields its page's CDP URL and ends it afterwards."""
    browser, ws_url = launch_chromium(profile)
    try:
        yield ws_url
    finally:
        browser.terminate()
        try:
            browser.wait(timeout=10)
        except subprocess.TimeoutExpired:
            browser.kill()


def launch_chromium(profile: Path) -> tuple[subprocess.Popen, str]:
    """Start headless Chromium with a fresh profile; returns it and its page's CDP URL."""
    browser = subprocess.Popen([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                                "about:blank"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    port_file = profile / "DevToolsActivePort"
    deadline = time.time() + 30
    while time.time() < deadline:
        if port_file.exists() and port_file.read_text().strip():
            port = port_file.read_text().split()[0]
            targets = requests.get(f"http://127.0.0.1:{port}/json/list", timeout=5).json()
            pages = [t for t in targets if t["type"] == "page"]
            if pages:
                return browser, pages[0]["webSocketDebuggerUrl"]
        time.sleep(0.1)
    browser.kill()
    raise RuntimeError("Chromium did not open its DevTools port within 30 s")


class Page:
    """The few CDP calls the test needs, over one websocket."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse):
        self.socket = socket
        self.ids = itertools.count(1)

    async def call(self, method: str, **params) -> dict:
        call_id = next(self.ids)
        await self.socket.send_json({"id": call_id, "method": method, "params": params})
        while True:
            message = json.loads((await self.socket.receive(timeout=30)).data)
            if message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    async def evaluate(self, expression: str):
        result = await self.call("Runtime.evaluate", expression=expression,
                                 returnByValue=True, awaitPromise=True)
        return result["result"].get("value")

    async def wait_for(self, expression: str, timeout: float = 20.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            value = await self.evaluate(expression)
            if value:
                return value
            await asyncio.sleep(0.1)
        raise AssertionError(f"timed out waiting for {expression}")

    async def box(self, selector: str) -> dict:
        return await self.evaluate(
            f"(() => {{ const r = document.querySelector('{selector}')"
            ".getBoundingClientRect(); return {x: r.x, y: r.y, w: r.width, h: r.height}; })()")

    async def click(self, x: float, y: float) -> None:
        for kind in ("mousePressed", "mouseReleased"):
            await self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left",
                            clickCount=1)

    async def press(self, key: str, code: int) -> None:
        for kind in ("keyDown", "keyUp"):
            await self.call("Input.dispatchKeyEvent", type=kind, key=key, code=key,
                            windowsVirtualKeyCode=code)

    async def screenshot(self, box: dict) -> np.ndarray:
        shot = await self.call("Page.captureScreenshot", format="png", clip={
            "x": box["x"], "y": box["y"], "width": box["w"], "height": box["h"], "scale": 1})
        png = np.frombuffer(base64.b64decode(shot["data"]), np.uint8)
        return cv2.cvtColor(cv2.imdecode(png, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def near(focus: str, point: tuple[float, float], tolerance: float = 0.01) -> bool:
    """Whether a focus value "X,Y" is within ``tolerance`` of ``point`` (page pixels round)."""
    if "," not in focus:
        return False
    x, y = (float(v) for v in focus.split(","))
    return abs(x - point[0]) <= tolerance and abs(y - point[1]) <= tolerance


def wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, "server did not see the change in time"
        time.sleep(0.05)


async def drive(page: Page, fed) -> None:
    await page.call("Page.enable")
    await page.call("Page.navigate", url=fed.url)
    await page.wait_for("document.body.dataset.ready === '1'")
    assert await page.evaluate("document.getElementById('strength').value") == "60"

    # Strength slider → 0: click it, then Home (as a keyboard user would).
    slider = await page.box("#strength")
    await page.click(slider["x"] + slider["w"] / 2, slider["y"] + slider["h"] / 2)
    await page.press("Home", 36)
    await page.wait_for("document.getElementById('strength-value').textContent === '0'")
    await page.evaluate("pending")  # every change the page made has been answered
    assert fed.control.settings.strength == 0
    await loop_wait(lambda: fed.processor.settings.strength == 0)
    frames = await asyncio.to_thread(stream_parts, fed.url + "stream.mjpg", 2, 2)
    for _, body in frames:
        assert distance_to_clip(rgb_of(body), fed.frames) < 0.5  # output equals input

    # Click the preview: the focus point goes to the server and into the pipeline.
    await page.wait_for("document.getElementById('preview').naturalWidth > 0")
    preview = await page.box("#preview")
    await page.click(preview["x"] + 0.25 * preview["w"], preview["y"] + 0.4 * preview["h"])
    await loop_wait(lambda: near(fed.control.settings.focus, (0.25, 0.4)), fed)
    await loop_wait(lambda: fed.processor.settings.focus == fed.control.settings.focus)
    focus = fed.control.settings.focus  # the page shows it once the server has answered
    await page.wait_for(f"document.getElementById('focus').textContent === '{focus}'")

    # People: one person sharp, picked by a click on the picture.
    await page.evaluate("document.getElementById('people').value = 'main';"
                        "document.getElementById('people').dispatchEvent(new Event('change'))")
    await loop_wait(lambda: fed.control.settings.people == "main", fed)
    assert await page.evaluate("document.getElementById('click-sets').value") == "subject"
    await page.click(preview["x"] + 0.6 * preview["w"], preview["y"] + 0.5 * preview["h"])
    await loop_wait(lambda: fed.control.settings.subject is not None, fed)
    x, y = fed.control.settings.subject
    assert abs(x - 0.6) <= 0.01 and abs(y - 0.5) <= 0.01
    await loop_wait(lambda: fed.processor.finder.subject == fed.control.settings.subject)
    assert fed.control.settings.focus == focus  # that click did not move the focus

    # The page shows the live picture: a screenshot of the preview is not blank.
    shot = await page.screenshot(preview)
    assert shot.shape[0] > 100 and shot.std() > 20
    assert (shot.reshape(-1, 3).max(1) > 30).mean() > 0.5  # mostly picture, not black


async def loop_wait(condition, fed=None) -> None:
    try:
        await asyncio.to_thread(wait_until, condition)
    except AssertionError:
        if fed is not None:
            print("server settings:", fed.control.snapshot())
        raise


async def run_in_browser(ws_url: str, fed) -> None:
    async with aiohttp.ClientSession() as session, \
            session.ws_connect(ws_url, max_msg_size=0) as socket:
        await drive(Page(socket), fed)


def test_control_page_in_chromium(tmp_path):
    with fed_server(tmp_path, strength=60, grain="off") as fed, \
            chromium(tmp_path / "profile") as ws_url:
        asyncio.run(run_in_browser(ws_url, fed))
