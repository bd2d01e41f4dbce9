"""Screenshot of the photo editor for the README: ``docs/editor.png`` (headless Chromium).

Opens five DAVIS frames (CC BY 4.0, from ../shared/testdata/davis-people) in a real editor,
sets the lens style at 28 % focused on the hiker, paints one restore stroke (his pack),
shows the page in headless Chromium over CDP (the tests' client) and saves a palette PNG,
scaled down until it is under 200 kB.
    python scripts/editor_screenshot.py [--shared ../shared] [--out docs/editor.png]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import sys
import tempfile
from pathlib import Path

import aiohttp
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from livebokeh.app.editing import Editor  # noqa: E402
from livebokeh.app.editor import EditorServer  # noqa: E402
from livebokeh.matte.brush import Stroke  # noqa: E402
from test_browser import Page, launch_chromium  # noqa: E402

CLIPS = (("hike", 30), ("lucia", 20), ("swing", 20), ("dance-jump", 20), ("rollerblade", 20))
WINDOW = (1360, 840)
MAX_BYTES = 200_000


async def capture(ws_url: str, url: str) -> bytes:
    async with aiohttp.ClientSession() as session, \
            session.ws_connect(ws_url, max_msg_size=0) as socket:
        page = Page(socket)
        await page.call("Emulation.setDeviceMetricsOverride", width=WINDOW[0],
                        height=WINDOW[1], deviceScaleFactor=1, mobile=False)
        await page.call("Page.enable")
        await page.call("Page.navigate", url=url)
        await page.wait_for("document.body.dataset.ready === '1'")
        await page.wait_for("document.getElementById('after').dataset.version >= '1'", 60)
        await page.evaluate("editorIdle()")
        shot = await page.call("Page.captureScreenshot", format="png")
        return base64.b64decode(shot["data"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "editor.png")
    args = parser.parse_args()
    model = args.shared / "models" / "tcmonodepth_tcsmallnet_192x320.onnx"
    with tempfile.TemporaryDirectory() as folder, \
            Editor(Path(folder), depth_model=str(model)) as editor:
        for clip, frame in CLIPS:
            editor.open_path(args.shared / "testdata" / "davis-people" / clip / "images"
                             / f"{frame:05d}.jpg")
        hike = next(iter(editor.photos.values()))
        hike.update({"style": "lens", "strength": 28, "focus": "0.63,0.55", "blades": 7})
        hike.add_stroke(Stroke("restore", ((0.55, 0.28), (0.56, 0.36)), 0.02, 0.5))
        with EditorServer(editor) as server:
            browser, ws_url = launch_chromium(Path(folder) / "profile")
            try:
                png = asyncio.run(capture(ws_url, server.url))
            finally:
                browser.terminate()
                browser.wait(timeout=10)
    image = Image.open(io.BytesIO(png)).convert("RGB")
    size = save_small(image, args.out)
    print(f"{args.out}: {Image.open(args.out).size}, {size // 1024} kB")


def save_small(image: Image.Image, path: Path) -> int:
    """Save as a dithered 256-colour PNG, scaled down until it is under ``MAX_BYTES``."""
    for scale in (1.0, 0.9, 0.8, 0.7, 0.6):
        scaled = image.resize((round(image.width * scale), round(image.height * scale)),
                              Image.Resampling.LANCZOS)
        palette = scaled.quantize(colors=256, method=Image.Quantize.MEDIANCUT,
                                  dither=Image.Dither.FLOYDSTEINBERG)
        data = io.BytesIO()
        palette.save(data, format="PNG", optimize=True)
        if data.tell() <= MAX_BYTES:
            break
    path.write_bytes(data.getvalue())
    return data.tell()

if __name__ == "__main__":
    main()
