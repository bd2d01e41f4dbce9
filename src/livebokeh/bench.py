"""``livebokeh bench``: per-stage timings of the real pipeline, as a table or JSON.

Each run processes ``frames`` frames (after ``warmup``) at one size and strength through a
video-mode ``BokehProcessor`` and a libx264 encoder, and reports the median and 95th
percentile wall time of every stage in milliseconds. Frames come from a given image or video
(resized), or are generated: a textured scene with a figure that moves a little each frame,
so temporal smoothing and the encoder see real change. Model inference time does not depend
on image content, so generated frames time segmentation faithfully.
"""

from __future__ import annotations

import io
import os
import platform
import time
from pathlib import Path

import av
import cv2
import numpy as np

from livebokeh.settings import BokehSettings
from livebokeh.video import X264_PRESET


def generated_frames(width: int, height: int, count: int, seed: int = 0) -> list[np.ndarray]:
    """``count`` RGB frames: noisy textured background, bright spots, a moving head-and-torso."""
    rng = np.random.default_rng(seed)
    base = cv2.resize(rng.integers(40, 200, (height // 16 + 1, width // 16 + 1, 3), np.uint8),
                      (width, height), interpolation=cv2.INTER_CUBIC)
    for _ in range(30):
        centre = (int(rng.integers(0, width)), int(rng.integers(0, height // 2)))
        cv2.circle(base, centre, max(2, width // 300), (255, 250, 230), -1)
    frames = []
    for i in range(count):
        frame = base.copy()
        cx = width // 2 + int(width * 0.03 * np.sin(i / 5))
        head = (width // 14, height // 6)
        cv2.ellipse(frame, (cx, height // 3), head, 0, 0, 360, (200, 150, 120), -1)
        torso = np.array([[cx - width // 5, height], [cx - width // 9, height // 2],
                          [cx + width // 9, height // 2], [cx + width // 5, height]], np.int32)
        cv2.fillPoly(frame, [torso], (40, 60, 120))
        frames.append(frame)
    return frames


def input_frames(path: Path, width: int, height: int, count: int) -> list[np.ndarray]:
    """Up to ``count`` frames of an image or video file, resized to width x height."""
    from livebokeh.photo import READ_EXTENSIONS, read_image
    from livebokeh.video import VideoReader

    if path.suffix.lower() in READ_EXTENSIONS:
        rgb, _ = read_image(path)
        frames = [rgb]
    else:
        frames = []
        with VideoReader(path) as reader:
            for kind, item, _ in reader.packets():
                if kind == "video":
                    frames.append(item)
                if len(frames) >= count:
                    break
    return [cv2.resize(f, (width, height), interpolation=cv2.INTER_AREA) for f in frames]


def _stats(values: list[float]) -> dict[str, float]:
    arr = np.asarray(values, np.float32)
    return {"median_ms": round(float(np.median(arr)), 3),
            "p95_ms": round(float(np.percentile(arr, 95)), 3)}


def time_run(frames: list[np.ndarray], settings: BokehSettings, count: int,
             warmup: int) -> dict:
    """Time ``count`` frames (cycling through ``frames``) after ``warmup`` untimed ones."""
    from livebokeh.pipeline import BokehProcessor

    height, width = frames[0].shape[:2]
    sink = av.open(io.BytesIO(), "w", format="mp4")
    stream = sink.add_stream("libx264", rate=30)
    stream.width, stream.height = width + width % 2, height + height % 2
    stream.pix_fmt = "yuv420p"
    stream.options = {"crf": "18", "preset": X264_PRESET}
    encode_buf = np.zeros((stream.height, stream.width, 3), np.uint8)
    stages: dict[str, list[float]] = {}
    totals = []
    with BokehProcessor(settings, video=True) as processor:
        for i in range(warmup + count):
            rgb = frames[i % len(frames)]
            result = processor.process(rgb, timestamp_ms=i * 33, out=encode_buf[:height, :width])
            t0 = time.perf_counter()
            frame = av.VideoFrame.from_ndarray(encode_buf, format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                sink.mux(packet)
            timings = dict(result.timings_ms, encode=(time.perf_counter() - t0) * 1e3)
            if i >= warmup:
                for name, ms in timings.items():
                    stages.setdefault(name, []).append(ms)
                totals.append(sum(timings.values()))
    sink.close()
    total = _stats(totals)
    total["fps"] = round(1000.0 / total["median_ms"], 1)
    return {"stages": {name: _stats(v) for name, v in stages.items()}, "total": total}


def run_bench(sizes, strengths, frames: int = 60, warmup: int = 5,
              input_path: Path | None = None, style: str = "gaussian") -> dict:
    """Benchmark every (size, strength) pair; returns a JSON-ready report."""
    runs = []
    for width, height in sizes:
        if input_path is None:
            source = generated_frames(width, height, min(frames, 30))
        else:
            source = input_frames(Path(input_path), width, height, frames)
        for strength in strengths:
            settings = BokehSettings(style=style, strength=strength)
            run = time_run(source, settings, frames, warmup)
            runs.append({"size": f"{width}x{height}", "style": style, "strength": strength,
                         "backend": "cpu", **run})
    return {"runs": runs, "frames": frames, "input": str(input_path) if input_path else None,
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                        "platform": platform.platform(), "opencv": cv2.__version__,
                        "numpy": np.__version__}}


def format_table(report: dict) -> str:
    """A fixed-width table: one row per run, median (p95) ms per stage, total and fps."""
    names = []
    for run in report["runs"]:
        names += [n for n in run["stages"] if n not in names]
    header = f"{'size':>10} {'style':>9} {'str':>4} " + " ".join(f"{n:>14}" for n in names)
    lines = [header + f" {'total':>14} {'fps':>6}"]
    for run in report["runs"]:
        cells = []
        for name in names:
            s = run["stages"].get(name)
            cells.append(f"{s['median_ms']:6.2f} ({s['p95_ms']:5.1f})" if s else f"{'-':>14}")
        t = run["total"]
        lines.append(f"{run['size']:>10} {run['style']:>9} {run['strength']:4.0f} "
                     + " ".join(cells)
                     + f" {t['median_ms']:6.2f} ({t['p95_ms']:5.1f}) {t['fps']:6.1f}")
    lines.append("ms per frame: median (p95)")
    return "\n".join(lines)
