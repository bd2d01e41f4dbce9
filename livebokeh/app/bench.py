"""``livebokeh bench``: per-stage timings of the real pipeline, as a table or JSON.

Each run processes ``frames`` frames (after ``warmup``) at one size, style and strength
through a video-mode ``BokehProcessor`` and a libx264 encoder (the strengths of one size
and style take turns frame by frame), and reports the median and 95th percentile wall
time of every stage in milliseconds. Stage names come from the processor's
``timings_ms`` plus ``encode``, so a stage added to the pipeline shows up here by itself.

Frames come from a given image or video (resized), else from the bundled portrait photo,
else are generated (a textured scene with a head-and-torso figure). A single picture is
shifted by a few pixels per frame so temporal smoothing and the encoder see real change.
Each run also reports ``subject_share`` (share of the frame with matte > 0.5, 0..1): near 0
means no person was found, and then the matte timings are not representative.

Comparisons, each from the same alternating run: the naive blur-whole-frame pipeline
(``eval.baseline``) at the same sigma; Linux-Fake-Background-Webcam's per-frame work
(``eval.lfbw``) by default, with ``blur=21`` and with ``blur=61``, against livebokeh at the
strength whose
sigma equals LFBW's effective blur sigma at that size; and the flatness of the cost across
strengths (every strength over strength 30). ``whole_video`` times the ``livebokeh video``
job against LFBW's work in the same PyAV decode/encode loop, on a real clip.
"""

from __future__ import annotations

import io
import os
import platform
import sys
import time
from pathlib import Path

import av
import cv2
import numpy as np

from livebokeh.eval.baseline import BaselineProcessor, BaselineSettings
from livebokeh.eval.lfbw import LfbwProcessor, LfbwSettings, effective_sigma
from livebokeh.io.video import X264_PRESET
from livebokeh.render.halo_free import MAX_RADIUS_FRACTION
from livebokeh.settings import BokehSettings

PORTRAIT_CANDIDATES = (
    Path(__file__).resolve().parent / "data" / "portrait.jpg",  # installed package
    Path(__file__).resolve().parents[2] / "assets" / "portrait.jpg",  # source checkout
)
CYCLE = 30  # distinct frames per run from a picture; timed frames cycle through them
MAX_VIDEO_FRAMES = 60  # frames kept from an input video (60 at 1920x1080: 370 MB)
DEFAULT_STRENGTHS = (5.0, 15.0, 30.0, 60.0, 100.0)
REFERENCE_STRENGTH = 30.0  # flatness: every strength's cost over this one's (the default)
# Linux-Fake-Background-Webcam's --background no (None: its default kernel 21) and
# --background no,blur=N (21, 61): the "blur 21" and "blur 61"
DEFAULT_LFBW_BLURS = (None, 21, 61)
IO_STAGES = ("decode", "encode")  # the rest of a frame's stages are its "process" time


def animated(rgb: np.ndarray, count: int, amplitude: float = 0.01) -> list[np.ndarray]:
    """``count`` copies of ``rgb`` panned along a closed loop of ``amplitude`` x width pixels.

    The loop closes after ``count`` frames, so cycling through them has no jump.
    """
    height, width = rgb.shape[:2]
    frames = []
    for i in range(count):
        phase = 2 * np.pi * i / count
        shift = np.float32([[1, 0, amplitude * width * np.sin(phase)],
                            [0, 1, amplitude * height * np.sin(2 * phase)]])
        frames.append(cv2.warpAffine(rgb, shift, (width, height), borderMode=cv2.BORDER_REFLECT))
    return frames


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
        cx = width // 2 + int(width * 0.03 * np.sin(2 * np.pi * i / count))  # closed loop
        head = (width // 14, height // 6)
        cv2.ellipse(frame, (cx, height // 3), head, 0, 0, 360, (200, 150, 120), -1)
        torso = np.array([[cx - width // 5, height], [cx - width // 9, height // 2],
                          [cx + width // 9, height // 2], [cx + width // 5, height]], np.int32)
        cv2.fillPoly(frame, [torso], (40, 60, 120))
        frames.append(frame)
    return frames


def input_frames(path: Path, width: int, height: int, count: int) -> list[np.ndarray]:
    """Up to ``count`` frames of an image or video file, resized to width x height.

    An image becomes ``CYCLE`` slightly panned copies (see ``animated``).
    """
    from livebokeh.io.images import READ_EXTENSIONS, read_image
    from livebokeh.io.video import VideoReader

    if path.suffix.lower() in READ_EXTENSIONS:
        rgb, _ = read_image(path)
        rgb = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)
        return animated(rgb, min(count, CYCLE))
    frames = []
    with VideoReader(path) as reader:
        for kind, item, _ in reader.packets():
            if kind == "video":
                frames.append(cv2.resize(item, (width, height), interpolation=cv2.INTER_AREA))
            if len(frames) >= min(count, MAX_VIDEO_FRAMES):
                break
    return frames


def source_frames(width: int, height: int, count: int,
                  input_path: Path | None) -> tuple[list[np.ndarray], str]:
    """Frames to time at width x height and what they are: the input, the portrait or generated."""
    if input_path is not None:
        return input_frames(Path(input_path), width, height, count), str(input_path)
    portrait = next((p for p in PORTRAIT_CANDIDATES if p.is_file()), None)
    if portrait is not None:
        return input_frames(portrait, width, height, count), "portrait"
    return generated_frames(width, height, min(count, CYCLE)), "generated"


def _stats(values: list[float]) -> dict[str, float]:
    """Median, 95th percentile and mean ms. The mean is the cost per frame over a run: where
    a motion prediction stands in for the model on some frames (``SubjectFinder.predictor``)
    the times fall in two clusters, and the median lands at the edge of one of them."""
    arr = np.asarray(values, np.float32)
    return {"median_ms": round(float(np.median(arr)), 3),
            "p95_ms": round(float(np.percentile(arr, 95)), 3),
            "mean_ms": round(float(np.mean(arr)), 3)}


def _encoder(width: int, height: int, target: io.BytesIO | None = None
             ) -> tuple[av.container.OutputContainer, av.VideoStream]:
    """An in-memory MP4 with a libx264 stream set up like ``livebokeh video`` output.

    x264 encodes on its own threads, so the ``encode`` stage is the time the caller waits
    (conversion to YUV and hand-over), not all of x264's CPU time.
    """
    sink = av.open(io.BytesIO() if target is None else target, "w", format="mp4")
    stream = sink.add_stream("libx264", rate=30)
    stream.width, stream.height = width + width % 2, height + height % 2
    stream.pix_fmt = "yuv420p"
    stream.options = {"crf": "18", "preset": X264_PRESET}
    return sink, stream


class _TimedRun:
    """One setting under test: its processor, its encoder and the per-stage times so far."""

    def __init__(self, settings: BokehSettings | BaselineSettings, width: int, height: int):
        from livebokeh.pipeline import BokehProcessor

        if isinstance(settings, BaselineSettings):
            self.processor = BaselineProcessor(settings)
        elif isinstance(settings, LfbwSettings):
            self.processor = LfbwProcessor(settings)
        else:
            self.processor = BokehProcessor(settings, video=True)
        self.sink, self.stream = _encoder(width, height)
        self.buffer = np.zeros((self.stream.height, self.stream.width, 3), np.uint8)
        self.stages: dict[str, list[float]] = {}
        self.totals: list[float] = []
        self.process: list[float] = []  # per frame: every stage but decode and encode
        self.subject: list[float] = []
        self.finder = getattr(self.processor, "finder", None)  # livebokeh's runs only
        self.passes = 0  # model passes in the timed frames

    def step(self, rgb: np.ndarray, index: int, timed: bool, decode_ms: float = 0.0) -> None:
        """Blur and encode frame ``index``; record its stage times if ``timed``."""
        height, width = rgb.shape[:2]
        passes = self.finder.passes if self.finder is not None else 0
        result = self.processor.process(rgb, timestamp_ms=index * 33,
                                        out=self.buffer[:height, :width])
        if timed and self.finder is not None:
            self.passes += self.finder.passes - passes
        t0 = time.perf_counter()
        frame = av.VideoFrame.from_ndarray(self.buffer, format="rgb24")
        frame.pts = index
        for packet in self.stream.encode(frame):
            self.sink.mux(packet)
        timings = {"decode": decode_ms, **result.timings_ms,
                   "encode": (time.perf_counter() - t0) * 1e3}
        if timed:
            for name, ms in timings.items():
                self.stages.setdefault(name, []).append(ms)
            self.totals.append(sum(timings.values()))
            self.process.append(sum(ms for name, ms in timings.items() if name not in IO_STAGES))
            self.subject.append(np.count_nonzero(result.matte > 0.5) / result.matte.size)

    def close(self) -> dict:
        """Flush (untimed), release everything and return the run's figures."""
        for packet in self.stream.encode(None):
            self.sink.mux(packet)
        self.sink.close()
        self.processor.close()
        total = _stats(self.totals)
        total["fps"] = round(1000.0 / total["median_ms"], 1)
        return {"stages": {name: _stats(v) for name, v in self.stages.items()},
                "total": total, "process": _stats(self.process),
                "process_ms": [round(ms, 3) for ms in self.process],
                "subject_share": round(float(np.mean(self.subject)), 3),
                "model_passes_per_frame": round(self.passes / max(1, len(self.totals)), 3)
                if self.finder is not None else None,
                "peak_rss_mb": peak_rss_mb()}


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux/macOS getrusage)."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1 << 20 if sys.platform == "darwin" else 1 << 10), 1)


class _DecodedFrames:
    """The bench frames as a real H.264 stream, decoded frame by frame (the decode stage).

    The frames are encoded once, untimed, into memory; ``next`` decodes the following frame
    (looping) and returns it with its decode time in ms.
    """

    def __init__(self, frames: list[np.ndarray]):
        height, width = frames[0].shape[:2]
        self.data = io.BytesIO()
        sink, stream = _encoder(width, height, self.data)
        padded = np.zeros((stream.height, stream.width, 3), np.uint8)
        for i, rgb in enumerate(frames):
            padded[:height, :width] = rgb
            frame = av.VideoFrame.from_ndarray(padded, format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                sink.mux(packet)
        for packet in stream.encode(None):
            sink.mux(packet)
        sink.close()
        self.size = (width, height)
        self._frames = None
        self._container = None

    def _restart(self) -> None:
        if self._container is not None:
            self._container.close()
        self.data.seek(0)
        self._container = av.open(self.data, "r", format="mp4")
        self._container.streams.video[0].thread_type = "AUTO"
        self._frames = self._container.decode(video=0)

    def next(self) -> tuple[np.ndarray, float]:
        t0 = time.perf_counter()
        frame = next(self._frames, None) if self._frames is not None else None
        if frame is None:
            self._restart()
            frame = next(self._frames)
        rgb = frame.to_ndarray(format="rgb24")[: self.size[1], : self.size[0]]
        return np.ascontiguousarray(rgb), (time.perf_counter() - t0) * 1e3

    def close(self) -> None:
        if self._container is not None:
            self._container.close()


def time_runs(frames: list[np.ndarray], settings: list[BokehSettings], count: int,
              warmup: int) -> list[dict]:
    """Time ``count`` frames (decoded from ``frames`` as H.264) after ``warmup`` untimed ones.

    The settings take turns frame by frame on the same decoded frame, so a load spike on a
    shared machine hits all of them alike and their ratios stay meaningful.
    """
    height, width = frames[0].shape[:2]
    source = _DecodedFrames(frames)
    runs = [_TimedRun(each, width, height) for each in settings]
    try:
        for i in range(warmup + count):
            rgb, decode_ms = source.next()
            for run in runs:
                run.step(rgb, i, timed=i >= warmup, decode_ms=decode_ms)
    except BaseException:
        for run in runs:
            run.processor.close()
        raise
    finally:
        source.close()
    return [run.close() for run in runs]


def _versions() -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for package in ("livebokeh", "mediapipe", "onnxruntime", "av", "numpy",
                    "opencv-contrib-python"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = None
    return found


def machine_info() -> dict:
    """What the figures depend on: CPU count, platform and library versions."""
    return {"cpus": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "processor": platform.machine(),
            "opencv": cv2.__version__, "versions": _versions()}


def matched_strength(blur: int | None, width: int, height: int) -> float:
    """livebokeh's strength whose gaussian sigma equals LFBW's effective blur sigma here."""
    strength = 100.0 * 2.0 * effective_sigma(blur) / (MAX_RADIUS_FRACTION
                                                      * np.hypot(width, height))
    return round(min(100.0, float(strength)), 1)


def _groups(runs: list[dict]):
    """Runs by (size, style) in report order, comparison rows left out."""
    keys = dict.fromkeys((r["size"], r["style"]) for r in runs if "comparison" not in r)
    for size, style in keys:
        yield size, style, [r for r in runs if (r["size"], r["style"]) == (size, style)
                            and "matches" not in r]


def _ratio(a: float, b: float) -> float:
    return round(a / b, 3)


def strength_ratios(runs: list[dict]) -> list[dict]:
    """Per size and style: each strength's total and render median over strength 30's.

    The reference is the run whose strength is nearest to ``REFERENCE_STRENGTH``.
    """
    ratios = []
    for size, style, same in _groups(runs):
        base = min(same, key=lambda r: abs(r["strength"] - REFERENCE_STRENGTH))
        for run in same:
            if run is base:
                continue
            entry = {"size": size, "style": style, "strength": run["strength"],
                     "vs": base["strength"],
                     "total": _ratio(run["total"]["median_ms"], base["total"]["median_ms"])}
            if "render" in run["stages"] and "render" in base["stages"]:
                entry["render"] = _ratio(run["stages"]["render"]["median_ms"],
                                         base["stages"]["render"]["median_ms"])
            ratios.append(entry)
    return ratios


def flatness(runs: list[dict]) -> list[dict]:
    """Per size and style: the costliest strength over strength 30 (1.0 = perfectly flat).

    ``render`` and ``total`` (median ms per frame) each: the largest ratio of any strength to
    the reference strength, and the largest over the smallest.
    """
    found = []
    for size, style, same in _groups(runs):
        if len(same) < 2:
            continue
        base = min(same, key=lambda r: abs(r["strength"] - REFERENCE_STRENGTH))
        entry = {"size": size, "style": style, "vs": base["strength"],
                 "strengths": [r["strength"] for r in same]}
        for name, pick in (("render", lambda r: r["stages"].get("render", {}).get("median_ms")),
                           ("total", lambda r: r["total"]["median_ms"])):
            values = [pick(r) for r in same]
            if None in values:
                continue
            entry[name] = {"max_vs_reference": _ratio(max(values), pick(base)),
                           "max_over_min": _ratio(max(values), min(values)),
                           "costliest_strength": same[values.index(max(values))]["strength"]}
        found.append(entry)
    return found


def baseline_ratios(runs: list[dict]) -> list[dict]:
    """Per livebokeh run: total median over the baseline's (same run, size and strength)."""
    baselines = {(r["group"], r["strength"]): r for r in runs if r["style"] == "baseline"}
    ratios = []
    for run in runs:
        base = baselines.get((run["group"], run["strength"]))
        if "comparison" not in run and base is not None:
            ratios.append({"size": run["size"], "style": run["style"],
                           "strength": run["strength"],
                           "total": _ratio(run["total"]["median_ms"], base["total"]["median_ms"]),
                           "process": _ratio(run["process"]["median_ms"],
                                             base["process"]["median_ms"])})
    return ratios


def lfbw_ratios(runs: list[dict]) -> list[dict]:
    """livebokeh at LFBW's sigma against LFBW, per size, style and LFBW blur value.

    ``process``: median ms per frame without decode and encode (``BokehProcessor.process``
    against LFBW's per-frame work); ``speedup`` = LFBW's over livebokeh's (2.0 = twice as
    fast); ``paired_speedup``: the median over frames of LFBW's time over livebokeh's on the
    same frame, which a load that changes during the run leaves alone; ``total_speedup``:
    the medians with decode and encode, which both pay alike; ``mean_speedup``: the means
    per frame (what a run costs when livebokeh's frames alternate between a model pass and
    a prediction).
    """
    ratios = []
    for run in runs:
        if "matches" not in run:
            continue
        peer = next(r for r in runs if r["size"] == run["size"] and r.get("group") ==
                    run.get("group") and r["style"] == run["matches"])
        paired = np.median(np.asarray(peer["process_ms"]) / np.asarray(run["process_ms"]))
        ratios.append({"size": run["size"], "style": run["style"], "lfbw": peer["style"],
                       "strength": run["strength"], "effective_sigma": peer["effective_sigma"],
                       "livebokeh_ms": run["process"]["median_ms"],
                       "lfbw_ms": peer["process"]["median_ms"],
                       "speedup": _ratio(peer["process"]["median_ms"],
                                         run["process"]["median_ms"]),
                       "paired_speedup": round(float(paired), 3),
                       "mean_speedup": _ratio(peer["process"]["mean_ms"],
                                              run["process"]["mean_ms"]),
                       "total_speedup": _ratio(peer["total"]["median_ms"],
                                               run["total"]["median_ms"])})
    return ratios


def _run_entry(each, width: int, height: int, backend: str, group: str, run: dict) -> dict:
    entry = {"size": f"{width}x{height}", "width": width, "height": height,
             "style": each.style, "strength": each.strength, "backend": backend,
             "group": group, **run}
    if isinstance(each, LfbwSettings):
        entry.update(comparison="lfbw", lfbw_blur=each.blur,
                     effective_sigma=round(effective_sigma(each.blur), 2))
    elif isinstance(each, BaselineSettings):
        entry["comparison"] = "baseline"
    return entry


def group_settings(style: str, strengths, width: int, height: int, backend: str,
                   baseline_strengths, lfbw_blurs) -> tuple[list, dict]:
    """The settings timed together for one style at one size, and which LFBW each matches."""
    settings = [BokehSettings(style=style, strength=each, backend=backend) for each in strengths]
    matches = {}
    for blur in lfbw_blurs:
        strength = matched_strength(blur, width, height)
        matches[len(settings)] = LfbwSettings(blur).style
        settings.append(BokehSettings(style=style, strength=strength, backend=backend))
    settings += [BaselineSettings(each) for each in baseline_strengths]
    settings += [LfbwSettings(blur) for blur in lfbw_blurs]
    return settings, matches


def run_bench(sizes, strengths=DEFAULT_STRENGTHS, frames: int = 60, warmup: int = 5,
              input_path: Path | None = None, styles=("gaussian",),
              baseline: bool | str = "reference", lfbw_blurs=(),
              backend: str = "auto") -> dict:
    """Benchmark every (size, style, strength) combination; returns a JSON-ready report.

    Times are milliseconds per frame; ``total`` is the per-frame sum of the stages and
    ``process`` the same without decode and encode. ``baseline``: time ``eval.baseline``
    (style "baseline", the naive blur-whole-frame pipeline) alongside the first style, at
    every strength (True), at the strength nearest 30 ("reference") or not at all (False).
    ``lfbw_blurs``: time ``eval.lfbw`` with these blur values alongside every style, and
    livebokeh at the strengths that match their sigma. ``backend``: auto, cpu or cuda.
    """
    from livebokeh.render.backend import select_backend

    backend_name = select_backend(backend)[0]  # the processors log the reason for it once
    strengths = list(strengths)
    if baseline == "reference":
        base_strengths = [min(strengths, key=lambda s: abs(s - REFERENCE_STRENGTH))]
    else:
        base_strengths = strengths if baseline else []
    runs = []
    source = "generated"
    for width, height in sizes:
        frame_list, source = source_frames(width, height, frames, input_path)
        for index, style in enumerate(styles):
            group = f"{width}x{height} {style}"
            settings, matches = group_settings(style, strengths, width, height, backend,
                                               base_strengths if index == 0 else [],
                                               lfbw_blurs)
            for i, (each, run) in enumerate(zip(settings, time_runs(frame_list, settings,
                                                                    frames, warmup),
                                                strict=True)):
                entry = _run_entry(each, width, height, backend_name, group, run)
                if i in matches:
                    entry["matches"] = matches[i]
                runs.append(entry)
    return {"runs": runs, "strength_ratios": strength_ratios(runs),
            "flatness": flatness(runs), "baseline_ratios": baseline_ratios(runs),
            "lfbw_ratios": lfbw_ratios(runs),
            "settings": {"frames": frames, "warmup": warmup, "source": source,
                         "video_mode": True, "encoder": f"libx264 {X264_PRESET} crf 18"},
            "machine": machine_info()}


def whole_video(clip: Path, lfbw_blurs=DEFAULT_LFBW_BLURS, repeat: int = 3,
                threads: int | None = None) -> list[dict]:
    """Wall time of ``livebokeh video`` against LFBW's loop on ``clip``, alternating.

    For each LFBW blur value: livebokeh at the matching strength (gaussian) and
    ``eval.lfbw.lfbw_video`` run ``repeat`` times each, in turn, into temporary files; the
    median seconds and LFBW's over livebokeh's (the speedup) are returned.
    """
    import tempfile

    from livebokeh.app.video import process_video
    from livebokeh.eval.lfbw import lfbw_video
    from livebokeh.io.video import VideoReader

    with VideoReader(clip) as reader:
        width, height = reader.size
        count = reader.frame_count
    results = []
    with tempfile.TemporaryDirectory(prefix="livebokeh-bench-") as folder:
        for blur in lfbw_blurs:
            strength = matched_strength(blur, width, height)
            ours, theirs = [], []
            for i in range(repeat):
                t0 = time.perf_counter()
                options = {} if threads is None else {"threads": threads}
                process_video(clip, Path(folder) / f"ours{i}.mp4",
                              BokehSettings(strength=strength), **options)
                t1 = time.perf_counter()
                lfbw_video(clip, Path(folder) / f"lfbw{i}.mp4", LfbwSettings(blur))
                ours.append(t1 - t0)
                theirs.append(time.perf_counter() - t1)
            ours_s, theirs_s = (round(float(np.median(v)), 4) for v in (ours, theirs))
            results.append({"clip": str(clip), "size": f"{width}x{height}", "frames": count,
                            "lfbw": LfbwSettings(blur).style, "strength": strength,
                            "livebokeh_s": ours_s, "lfbw_s": theirs_s,
                            "speedup": _ratio(theirs_s, ours_s), "repeat": repeat,
                            "threads": threads})
    return results


def format_table(report: dict) -> str:
    """A fixed-width table: one row per run, median (p95) ms per stage, total and fps."""
    names = []
    for run in report["runs"]:
        names += [n for n in run["stages"] if n not in names]
    header = f"{'size':>10} {'style':>12} {'str':>5} " + " ".join(f"{n:>14}" for n in names)
    lines = [header + f" {'total':>14} {'fps':>6}"]
    for run in report["runs"]:
        cells = []
        for name in names:
            s = run["stages"].get(name)
            cells.append(f"{s['median_ms']:6.2f} ({s['p95_ms']:5.1f})" if s else f"{'-':>14}")
        t = run["total"]
        lines.append(f"{run['size']:>10} {run['style']:>12} {run['strength']:5.1f} "
                     + " ".join(cells)
                     + f" {t['median_ms']:6.2f} ({t['p95_ms']:5.1f}) {t['fps']:6.1f}")
    for entry in report.get("flatness", []):
        parts = [f"{name} x{entry[name]['max_vs_reference']:.2f} "
                 f"(at {entry[name]['costliest_strength']:g})"
                 for name in ("render", "total") if name in entry]
        lines.append(f"{entry['size']} {entry['style']}: flatness, costliest strength vs "
                     f"{entry['vs']:g}: " + ", ".join(parts))
    for ratio in report.get("baseline_ratios", []):
        lines.append(f"{ratio['size']} {ratio['style']} strength {ratio['strength']:g}: "
                     f"total x{ratio['total']:.2f} of the baseline's")
    for ratio in report.get("lfbw_ratios", []):
        lines.append(f"{ratio['size']} {ratio['style']} strength {ratio['strength']:g} vs "
                     f"{ratio['lfbw']} (sigma {ratio['effective_sigma']:g}): "
                     f"{ratio['livebokeh_ms']:.1f} vs {ratio['lfbw_ms']:.1f} ms per frame, "
                     f"{ratio['speedup']:.2f}x faster "
                     f"(frame by frame {ratio['paired_speedup']:.2f}x, means "
                     f"{ratio['mean_speedup']:.2f}x)")
    for entry in report.get("whole_video", []):
        lines.append(f"whole video {entry['size']} ({entry['frames']} frames) vs "
                     f"{entry['lfbw']}: livebokeh {entry['livebokeh_s']:.2f} s, LFBW loop "
                     f"{entry['lfbw_s']:.2f} s, {entry['speedup']:.2f}x faster")
    predicted = [run for run in report["runs"] if "segmentation" in run["stages"]
                 and run.get("model_passes_per_frame") is not None
                 and run["model_passes_per_frame"] < 0.95]
    for run in predicted:
        stages = run["stages"]
        lines.append(f"{run['size']} {run['style']} {run['strength']:g}: model on "
                     f"{run['model_passes_per_frame']:.2f} of frames (the rest carried along "
                     f"the motion); means: segmentation "
                     f"{stages['segmentation']['mean_ms']:.2f}, matte "
                     f"{stages['matte']['mean_ms']:.2f} ms")
    if any(run["subject_share"] < 0.02 for run in report["runs"]):
        lines.append("note: no person found in some runs' frames: matte timings not representative")
    settings = report["settings"]
    lines.append(f"ms per frame: median (p95) over {settings['frames']} frames "
                 f"({settings['source']} frames, {report['machine']['cpus']} CPUs)")
    return "\n".join(lines)
