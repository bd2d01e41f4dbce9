"""The photo editor in a real headless Chromium, driven over CDP as a user would.

The page is handed a file that is not a photo (its message must show), then opens a real
photo through its file picker; the strength slider is moved with the mouse, an erase stroke
is painted across the person's jacket with real mouse events (undone with Ctrl+Z, redone
with the button), and the Export button writes a WebP. Then a click with the Focus tool
sets the lens's focus point, and a second photo is dropped onto the page. The exported file
is checked: format, size, the strength the slider set, and the stroke's area blurred while
the face stays sharp. The CDP client is the control page test's
(test_browser: aiohttp's websocket, no driver, no npm).
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import aiohttp
import numpy as np
import pytest
from PIL import Image

from conftest import PEOPLE, need
from livebokeh.app.editing import Editor
from livebokeh.app.editor import EditorServer
from livebokeh.io.images import read_image
from test_browser import CHROMIUM, Page, chromium
from test_editor import depth_model, sharpness

pytestmark = pytest.mark.skipif(CHROMIUM is None,
                                reason="no Chromium installed (apt-get install chromium)")
STROKE = [(0.36, 0.55), (0.39, 0.58), (0.42, 0.61), (0.46, 0.61), (0.50, 0.60)]
STROKE_BOX = (0.38, 0.56, 0.46, 0.61)  # inside the stroke, on the jacket
FACE = (0.42, 0.2, 0.52, 0.33)


async def mouse(page: Page, kind: str, x: float, y: float, held: bool = True) -> None:
    """One mouse event; ``held``: the left button is down while the mouse moves."""
    await page.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left",
                    buttons=int(kind == "mousePressed" or (held and kind == "mouseMoved")),
                    clickCount=1)


async def click_label(page: Page, selector: str) -> None:
    """Click the middle of an element, scrolled into view first (the panel scrolls)."""
    await page.evaluate(f"document.querySelector('{selector}').scrollIntoView({{block: 'center'}})")
    box = await page.box(selector)
    await page.click(box["x"] + box["w"] / 2, box["y"] + box["h"] / 2)


async def pick_file(page: Page, path: Path) -> None:
    """Choose ``path`` in the page's file picker (what the OS dialog would hand over)."""
    document = await page.call("DOM.getDocument")
    node = await page.call("DOM.querySelector", nodeId=document["root"]["nodeId"],
                           selector="#file-picker")
    await page.call("DOM.setFileInputFiles", files=[str(path)], nodeId=node["nodeId"])


async def drive(page: Page, url: str, photo: Path, editor: Editor, out: Path) -> None:
    await page.call("Page.enable")
    await page.call("Page.navigate", url=url)
    await page.wait_for("document.body.dataset.ready === '1'")

    # A file that is not a photo: a clear line on the page, nothing opened.
    notes = photo.with_name("notes.jpg")
    notes.write_text("not a photo")
    await pick_file(page, notes)
    message = await page.wait_for("document.getElementById('error').textContent")
    assert message == "cannot read image notes.jpg: not an image Pillow can decode " \
                      "(or the file is damaged)"
    assert not editor.photos

    await pick_file(page, photo)
    await page.wait_for("document.getElementById('after').dataset.version >= '1'", 60)
    assert await page.evaluate("document.querySelectorAll('#strip img').length") == 1
    assert await page.evaluate("document.getElementById('error').textContent") == ""
    (edit,) = editor.photos.values()

    # Strength: click the slider where 25 % sits (the thumb is 16 px wide).
    slider = await page.box("#strength")
    await page.click(slider["x"] + 8 + (slider["w"] - 16) * 0.25, slider["y"] + slider["h"] / 2)
    await page.evaluate("editorIdle()")
    shown = int(await page.evaluate("document.getElementById('strength-value').textContent"))
    assert 23 <= shown <= 27 and edit.settings.strength == shown

    # Erase brush, one stroke across the jacket.
    await click_label(page, "input[name=tool][value=erase]")
    canvas = await page.box("#paint")
    points = [(canvas["x"] + x * canvas["w"], canvas["y"] + y * canvas["h"]) for x, y in STROKE]
    await mouse(page, "mouseMoved", *points[0])
    await mouse(page, "mousePressed", *points[0])
    for point in points[1:]:
        await mouse(page, "mouseMoved", *point)
    await mouse(page, "mouseReleased", *points[-1])
    await page.evaluate("editorIdle()")
    (stroke,) = edit.strokes
    assert stroke.mode == "erase" and len(stroke.points) == len(STROKE)
    assert np.allclose(stroke.points, STROKE, atol=0.01)
    assert await page.evaluate("document.getElementById('undo').disabled") is False
    await page.call("Input.dispatchKeyEvent", type="keyDown", key="z", code="KeyZ",
                    modifiers=2, windowsVirtualKeyCode=90)  # Ctrl+Z
    await page.call("Input.dispatchKeyEvent", type="keyUp", key="z", code="KeyZ", modifiers=2,
                    windowsVirtualKeyCode=90)
    await page.evaluate("editorIdle()")
    assert not edit.strokes and edit.undone == [stroke]
    await click_label(page, "#redo")
    await page.evaluate("editorIdle()")
    assert edit.strokes == [stroke]

    # Before/after: the split slider uncovers the original from the left.
    split = await page.box("#split")
    await page.click(split["x"] + 8 + (split["w"] - 16) * 0.5, split["y"] + split["h"] / 2)
    clip = await page.evaluate("document.getElementById('before').style.clipPath")
    assert clip.startswith("inset(0px 5") or clip.startswith("inset(0 5"), clip

    # Export as WebP at quality 80.
    await page.evaluate("(() => { const f = document.getElementById('format');"
                        " f.value = '.webp'; f.dispatchEvent(new Event('change')); })()")
    await page.evaluate("document.getElementById('quality').value = '80'")
    assert await page.evaluate("document.getElementById('export-name').value") \
        == "reading-bokeh.webp"
    await click_label(page, "#export")
    saved = await page.wait_for(
        "(document.getElementById('exported').textContent.startsWith('Saved') || "
        "document.getElementById('error').textContent) && "
        "document.getElementById('exported').textContent + document.getElementById('error')"
        ".textContent", 120)
    assert str(out / "reading-bokeh.webp") in saved

    shot = await page.screenshot(await page.box("#frame"))
    assert shot.std() > 20  # the picture is on screen

    # Lens style, then a click on the picture with the Focus tool sets the focus point there.
    await page.evaluate("(() => { const s = document.getElementById('style');"
                        " s.value = 'lens'; s.dispatchEvent(new Event('change')); })()")
    await page.evaluate("editorIdle()")
    await click_label(page, "input[name=tool][value=focus]")
    assert await page.evaluate("document.querySelector('input[name=tool][value=focus]').checked")
    frame = await page.box("#frame")
    point = (frame["x"] + 0.47 * frame["w"], frame["y"] + 0.25 * frame["h"])
    for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
        await mouse(page, kind, *point, held=False)
    await page.evaluate("editorIdle()")
    x, y = (float(v) for v in edit.settings.focus.split(","))
    assert edit.settings.style == "lens" and abs(x - 0.47) < 0.01 and abs(y - 0.25) < 0.01
    assert await page.evaluate("document.getElementById('focus-mark').hidden") is False

    # A second photo dropped onto the page joins the strip.
    second = photo.with_name("second.jpg")
    shutil.copy(need(PEOPLE / "images" / "94.jpg"), second)
    stage = await page.box("#stage")
    x, y = stage["x"] + stage["w"] / 2, stage["y"] + stage["h"] / 2
    data = {"items": [], "files": [str(second)], "dragOperationsMask": 1}
    for kind in ("dragEnter", "dragOver", "drop"):
        await page.call("Input.dispatchDragEvent", type=kind, x=x, y=y, data=data)
    await page.wait_for("document.querySelectorAll('#strip img').length === 2", 60)
    assert [p.name for p in editor.photos.values()] == ["reading.jpg", "second.jpg"]

def test_editor_in_chromium(tmp_path):
    photo = tmp_path / "reading.jpg"
    shutil.copy(need(PEOPLE / "images" / "86.jpg"), photo)
    out = tmp_path / "out"
    out.mkdir()
    with Editor(out, depth_model=depth_model()) as editor, EditorServer(editor) as server, \
            chromium(tmp_path / "profile") as ws_url:
        asyncio.run(run(ws_url, server.url, photo, editor, out))

    exported = out / "reading-bokeh.webp"
    with Image.open(exported) as image:
        assert image.format == "WEBP" and image.size == (1350, 900)
    assert 20_000 < exported.stat().st_size < 1_000_000
    assert sorted(p.name for p in out.iterdir()) == [
        "reading-bokeh.livebokeh.json", "reading-bokeh.refine.png", "reading-bokeh.webp"]
    result, original = read_image(exported)[0], read_image(photo)[0]
    assert sharpness(result, STROKE_BOX) < 0.5 * sharpness(original, STROKE_BOX)  # erased
    assert sharpness(result, FACE) > 0.75 * sharpness(original, FACE)  # still sharp
    background = (0.02, 0.05, 0.2, 0.5)
    assert sharpness(result, background) < 0.6 * sharpness(original, background)


async def run(ws_url: str, url: str, photo: Path, editor: Editor, out: Path) -> None:
    async with aiohttp.ClientSession() as session, \
            session.ws_connect(ws_url, max_msg_size=0) as socket:
        await drive(Page(socket), url, photo, editor, out)
