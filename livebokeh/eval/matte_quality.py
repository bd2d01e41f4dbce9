"""Matte quality against truth: photos (IoU, boundary F) and video (also dtSSD, flips).

Photos: people-masks, raw = the general model's confidence on the whole photo (bilinear,
0.5) against livebokeh's photo matte. Video, two kinds of real test footage:

* DAVIS person clips (``testdata/davis-people``): moving cameras, full-body people, a
  binary truth mask per frame for the annotated person;
* a still-camera clip composed here from a people-masks photo: the person, cut out with her
  reference mask, moves over a static real background (a person-free band of another photo),
  with fresh sensor noise in every frame, so truth is known per frame and every pixel the
  subject does not cover is static.

Metrics per clip (mattes are float32 0..1, truth boolean):

* ``iou`` and ``boundary_f`` (2 px) of the matte thresholded at 0.5, averaged over frames;
* ``dtssd``: per frame pair the root mean square of (m_t - m_t-1) - (g_t - g_t-1), x100,
  averaged over pairs: the temporal error video-matting benchmarks use (Erofeev et al.);
* ``flips`` (still-camera clip): share of static pixels (covered by the subject in neither
  frame, so only sensor noise changes them) whose label (matte > 0.5) changes between
  consecutive frames.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from livebokeh.eval.metrics import boundary_f, iou
from livebokeh.eval.report import load_person, person_free_background
from livebokeh.perception.segmentation import PersonSegmenter
from livebokeh.pipeline import BokehProcessor
from livebokeh.settings import BokehSettings

DAVIS_CLIPS = ("lucia", "hike", "dance-jump", "rollerblade", "swing")
STILL_NOISE = 3.0  # 8-bit levels of sensor noise per frame in the still-camera clip


@dataclass
class Clip:
    """Frames (RGB uint8) with their truth (bool HxW) and, optionally, static-pixel masks."""

    name: str
    frames: list[np.ndarray]
    truths: list[np.ndarray]
    fps: float = 25.0
    static: list[np.ndarray] | None = None  # per frame pair: pixels that did not change


def _read_rgb(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError(path)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def load_davis(root: Path, names: Iterable[str] = DAVIS_CLIPS) -> list[Clip]:
    """The DAVIS person clips under ``root`` (``<clip>/images/*.jpg``, ``<clip>/masks/*.png``)."""
    clips = []
    for name in names:
        images = sorted((root / name / "images").glob("*.jpg"))
        frames = [_read_rgb(p) for p in images]
        truths = [cv2.imread(str(root / name / "masks" / f"{p.stem}.png"),
                             cv2.IMREAD_GRAYSCALE) > 127 for p in images]
        clips.append(Clip(name, frames, truths, fps=24.0))
    return clips


def still_camera_clip(people: Path, subject: int = 66, background: int = 86,
                      frames: int = 60, size: tuple[int, int] = (854, 480),
                      seed: int = 0) -> Clip:
    """A person (people-masks ``subject``) walking over a static real background.

    The subject is scaled to 80 % of the frame height and moves left and right across the
    middle (a slow sway, 0.6 px/frame at most, then a faster stretch of 4 px/frame), with
    its reference alpha as truth. Every frame gets fresh Gaussian sensor noise of
    ``STILL_NOISE`` levels, as a webcam does, so a still pixel still varies a little.
    """
    width, height = size
    rgb, alpha = load_person(people, subject)
    back_rgb, back_alpha = load_person(people, background)
    plate = person_free_background(back_rgb, back_alpha, width, height).astype(np.float32)
    ys, xs = np.nonzero(alpha > 0.5)
    crop = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))
    scale = 0.8 * height / (ys.max() + 1 - ys.min())
    person = cv2.resize(rgb[crop], None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    matte = cv2.resize(alpha[crop], None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(seed)
    offsets = _still_path(frames, width - person.shape[1])
    clip = Clip("still-camera", [], [], fps=30.0, static=[])
    previous = None
    for x in offsets:
        a = np.zeros((height, width), np.float32)
        layer = np.zeros((height, width, 3), np.float32)
        y0, x0 = height - person.shape[0], int(round(x))
        a[y0:, x0:x0 + person.shape[1]] = matte
        layer[y0:, x0:x0 + person.shape[1]] = person
        scene = layer * a[..., None] + plate * (1.0 - a[..., None])
        scene += rng.normal(0.0, STILL_NOISE, scene.shape).astype(np.float32)
        clip.frames.append(np.clip(scene + 0.5, 0, 255).astype(np.uint8))
        clip.truths.append(a > 0.5)
        if previous is not None:
            clip.static.append(~(previous | (a > 0)))
        previous = a > 0
    return clip


def _still_path(frames: int, travel: int) -> list[float]:
    """Horizontal offsets (px): a slow sway for the first half, then a quicker walk."""
    half = frames // 2
    start = 0.35 * travel
    slow = [start + 0.6 * i for i in range(half)]
    fast = [slow[-1] + 4.0 * (i + 1) for i in range(frames - half)]
    return [min(max(x, 0.0), float(travel)) for x in slow + fast]


def dtssd(mattes: Sequence[np.ndarray], truths: Sequence[np.ndarray]) -> float:
    """Mean over frame pairs of the RMS of the matte's change minus the truth's change, x100."""
    values = []
    for t in range(1, len(mattes)):
        dm = mattes[t].astype(np.float32) - mattes[t - 1].astype(np.float32)
        dg = truths[t].astype(np.float32) - truths[t - 1].astype(np.float32)
        values.append(float(np.sqrt(np.mean((dm - dg) ** 2))))
    return 100.0 * float(np.mean(values))


def static_flips(mattes: Sequence[np.ndarray], static: Sequence[np.ndarray]) -> float:
    """Share of static pixels whose label (matte > 0.5) changes between consecutive frames."""
    flips = [float(((b > 0.5) != (a > 0.5))[s].mean())
             for a, b, s in zip(mattes, mattes[1:], static, strict=False)]
    return float(np.mean(flips))


def clip_scores(clip: Clip, mattes: Sequence[np.ndarray]) -> dict[str, float]:
    """IoU, boundary F, dtSSD (and static flips where the clip has static masks)."""
    scores = {
        "iou": float(np.mean([iou(m > 0.5, g) for m, g in zip(mattes, clip.truths, strict=True)])),
        "boundary_f": float(np.mean([boundary_f(m > 0.5, g)
                                     for m, g in zip(mattes, clip.truths, strict=True)])),
        "dtssd": dtssd(mattes, clip.truths),
    }
    if clip.static is not None:
        scores["flips"] = static_flips(mattes, clip.static)
    return scores


def mean_scores(rows: Sequence[dict[str, float]]) -> dict[str, float]:
    return {key: float(np.mean([row[key] for row in rows])) for key in rows[0]}


def raw_video_mattes(clip: Clip) -> list[np.ndarray]:
    """The landscape model's confidence on each whole frame, upsampled bilinearly."""
    mattes = []
    with PersonSegmenter("landscape", video=True) as segmenter:
        for index, frame in enumerate(clip.frames):
            confidence = segmenter.segment(frame, round(index * 1000 / clip.fps))
            mattes.append(cv2.resize(confidence, frame.shape[1::-1],
                                     interpolation=cv2.INTER_LINEAR))
    return mattes


def video_mattes(clip: Clip, **settings) -> list[np.ndarray]:
    """livebokeh's video matte of each frame (``settings`` are BokehSettings fields)."""
    mattes = []
    with BokehProcessor(BokehSettings(grain="off", **settings), video=True) as processor:
        for index, frame in enumerate(clip.frames):
            mattes.append(processor.compute_matte(frame, round(index * 1000 / clip.fps)).copy())
    return mattes


def photo_scores(people: Path, indices: Iterable[int], mode: str = "all") -> dict[str, float]:
    """Mean IoU and boundary F of the raw confidence and of livebokeh's photo matte."""
    rows = []
    settings = BokehSettings(people=mode, grain="off")
    with PersonSegmenter("general") as segmenter, \
            BokehProcessor(settings, video=False) as processor:
        for index in indices:
            rgb, alpha = load_person(people, index)
            truth = alpha > 0.5
            raw = cv2.resize(segmenter.segment(rgb), truth.shape[::-1],
                             interpolation=cv2.INTER_LINEAR)
            matte = processor.compute_matte(rgb)
            rows.append((iou(raw > 0.5, truth), boundary_f(raw > 0.5, truth),
                         iou(matte > 0.5, truth), boundary_f(matte > 0.5, truth)))
    means = np.array(rows, np.float32).mean(axis=0)
    return {"n": len(rows), "raw_iou": float(means[0]), "raw_bf": float(means[1]),
            "iou": float(means[2]), "bf": float(means[3])}


HALVES = {"A": ("lucia", "dance-jump", "swing"), "B": ("hike", "rollerblade")}


VIDEO_METHODS = {"raw": raw_video_mattes,
                 "all": lambda clip: video_mattes(clip, people="all"),
                 "main": lambda clip: video_mattes(clip, people="main")}


def measure_video(clips: list[Clip]) -> dict:
    """Scores per method and clip, DAVIS means (all clips and each half), timing."""
    report: dict = {}
    for method, run in VIDEO_METHODS.items():
        started = time.perf_counter()
        per_clip = {clip.name: clip_scores(clip, run(clip)) for clip in clips}
        davis = [name for name in per_clip if name != "still-camera"]
        entry = {"clips": per_clip, "seconds": time.perf_counter() - started}
        if davis:
            entry["davis"] = mean_scores([per_clip[name] for name in davis])
            for half, names in HALVES.items():
                rows = [per_clip[name] for name in names if name in per_clip]
                if rows:
                    entry[f"davis_{half}"] = mean_scores(rows)
        report[method] = entry
    return report


def video_table(report: dict) -> str:
    """A Markdown table: DAVIS means and halves, then the still-camera clip."""
    lines = ["| method | DAVIS IoU | boundary F | dtSSD | half A IoU / BF / dtSSD | "
             "half B IoU / BF / dtSSD | still-camera IoU | flips (%) | dtSSD |",
             "|---|---|---|---|---|---|---|---|---|"]
    for method, entry in report.items():
        d, a, b = entry.get("davis", {}), entry.get("davis_A", {}), entry.get("davis_B", {})
        s = entry["clips"].get("still-camera", {})

        def triple(scores):
            return " / ".join(f"{scores[k]:.3f}" if k != "dtssd" else f"{scores[k]:.2f}"
                              for k in ("iou", "boundary_f", "dtssd")) if scores else "-"

        lines.append(f"| {method} | {d.get('iou', 0):.3f} | {d.get('boundary_f', 0):.3f} | "
                     f"{d.get('dtssd', 0):.2f} | {triple(a)} | {triple(b)} | "
                     f"{s.get('iou', 0):.3f} | {100 * s.get('flips', 0):.3f} | "
                     f"{s.get('dtssd', 0):.2f} |")
    return "\n".join(lines)
