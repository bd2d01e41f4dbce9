"""The editor's one wall-time figure: re-rendering the preview of a 12-megapixel photo.

Issue 15 asks each slider or brush change to re-render a screen-sized preview in at most
150 ms for a 12-megapixel photo on this machine, measured in a test. Measured here as the
page does it, over HTTP on 127.0.0.1: one change (a settings POST with a new strength, or a
stroke POST) and then the preview POST, until the JPEG has arrived, at a 1280-pixel preview
(a full-HD screen's picture area). Every style is measured, changes alternating between
styles and kinds. The figures are printed (run with ``-s``); the median is held to the
issue's 150 ms, the p95 is reported.
"""

from __future__ import annotations

import itertools
import statistics
import time

import cv2
import numpy as np
import requests

from conftest import PEOPLE, need
from livebokeh.app.editing import Editor
from livebokeh.app.editor import EditorServer
from test_editor import JSON, depth_model

PREVIEW = 1280  # pixels, long side
TARGET_MS = 150.0
ROUNDS = 8  # per style and kind of change


def twelve_megapixel_photo(folder) -> str:
    """A real photo (people-masks 86, 1350x900) enlarged to 4245x2830 = 12.0 megapixels."""
    rgb = cv2.imread(str(need(PEOPLE / "images" / "86.jpg")))
    path = folder / "portrait-12mp.jpg"
    cv2.imwrite(str(path), cv2.resize(rgb, (4245, 2830), interpolation=cv2.INTER_CUBIC),
                [cv2.IMWRITE_JPEG_QUALITY, 92])
    return str(path)


def change_and_preview(session, url: str, change: str, body: dict) -> float:
    """Milliseconds from sending a change to holding the new preview JPEG."""
    start = time.perf_counter()
    reply = session.post(url + change, json=body, headers=JSON, timeout=60)
    assert reply.ok, reply.text
    preview = session.post(url + "preview", json={"size": PREVIEW}, headers=JSON, timeout=60)
    elapsed = (time.perf_counter() - start) * 1e3
    assert preview.ok and preview.headers["Content-Type"] == "image/jpeg"
    image = cv2.imdecode(np.frombuffer(preview.content, np.uint8), cv2.IMREAD_COLOR)
    assert max(image.shape[:2]) == PREVIEW
    return elapsed


def test_preview_latency_for_a_12_megapixel_photo(tmp_path):
    photo = twelve_megapixel_photo(tmp_path)
    with Editor(tmp_path, depth_model=depth_model()) as editor, EditorServer(editor) as server, \
            requests.Session() as session:
        info = editor.open_path(photo).info()
        assert info["width"] * info["height"] >= 12_000_000
        url = f"{server.url}api/photos/{info['id']}/"
        times: dict[tuple[str, str], list[float]] = {}
        strengths = itertools.cycle((20, 25, 30, 35))
        for style in ("gaussian", "lens", "motion", "radial"):  # warm-up: buffers, models
            change_and_preview(session, url, "settings", {"style": style})
        for round_ in range(ROUNDS):
            for style in ("gaussian", "lens", "motion", "radial"):
                session.post(url + "settings", json={"style": style}, headers=JSON, timeout=60)
                slider = change_and_preview(session, url, "settings",
                                            {"strength": next(strengths)})
                x = 0.2 + 0.07 * (round_ % 8)
                stroke = {"mode": "erase" if round_ % 2 else "restore", "radius": 0.02,
                          "softness": 0.5, "points": [[x, 0.2], [x + 0.03, 0.3], [x, 0.4]]}
                brush = change_and_preview(session, url, "stroke", stroke)
                times.setdefault((style, "slider"), []).append(slider)
                times.setdefault((style, "brush"), []).append(brush)

    every = [t for values in times.values() for t in values]
    median, p95 = statistics.median(every), float(np.percentile(every, 95))
    print(f"\npreview latency, 12.0 MP photo, {PREVIEW}-px preview, change + preview over "
          f"HTTP, {len(every)} changes: median {median:.0f} ms, p95 {p95:.0f} ms")
    for (style, kind), values in sorted(times.items()):
        print(f"  {style:8s} {kind:6s} median {statistics.median(values):5.0f} ms  "
              f"p95 {np.percentile(values, 95):5.0f} ms")
    assert median <= TARGET_MS
