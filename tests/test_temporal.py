"""Temporal smoothing: less flicker on still scenes, and no lag behind a moving subject.

The smoother averages the person confidence over time after moving the last state along
the optical flow (livebokeh.matte.temporal), so it should calm a still scene without
trailing a person who moves.
"""

from __future__ import annotations

import numpy as np

from conftest import PEOPLE, REPO, need
from livebokeh.eval.matte_quality import static_flips, still_camera_clip, video_mattes
from livebokeh.eval.metrics import iou
from livebokeh.io.images import read_image


class Frames:
    def __init__(self, frames, fps=30.0):
        self.frames, self.fps = frames, fps


def test_static_background_flickers_less():
    """Still-camera clip (a person walking over a static background with sensor noise): on
    the pixels the person never covers, smoothing calms the matte (measured: flips 0.00095 →
    0.00019 of those pixels per frame, mean change 0.0012 → 0.0006)."""
    clip = still_camera_clip(need(PEOPLE))
    scores = {}
    for temporal in (False, True):
        mattes = video_mattes(clip, temporal=temporal)
        change = np.mean([np.abs(b - a)[s].mean()
                          for a, b, s in zip(mattes, mattes[1:], clip.static, strict=False)])
        scores[temporal] = (static_flips(mattes, clip.static), change)
    assert scores[False][0] > 0  # without smoothing the model's noise does flip labels
    assert scores[True][0] <= 0.5 * scores[False][0], scores
    assert scores[True][1] <= 0.7 * scores[False][1], scores


def test_moving_subject_is_followed_without_lag():
    """On the still-camera clip the subject walks 4 px a frame in its second half: the
    smoothed matte must match the truth there at least as well as the unsmoothed one."""
    clip = still_camera_clip(need(PEOPLE))
    fast = range(len(clip.frames) // 2 + 2, len(clip.frames))
    raw = video_mattes(clip, temporal=False)
    smooth = video_mattes(clip, temporal=True)
    raw_iou = np.mean([iou(raw[t] > 0.5, clip.truths[t]) for t in fast])
    smooth_iou = np.mean([iou(smooth[t] > 0.5, clip.truths[t]) for t in fast])
    assert smooth_iou >= raw_iou - 0.003, (smooth_iou, raw_iou)


def test_a_still_scene_skips_most_model_passes_with_the_same_matte():
    """A webcam-like still scene (sensor noise only): the crop barely changes, so the model
    runs on at most a quarter of the frames, and the matte stays that of a full run."""
    from livebokeh.pipeline import BokehProcessor
    from livebokeh.settings import BokehSettings

    rng = np.random.default_rng(2)
    still, _ = read_image(REPO / "assets" / "portrait.jpg")
    frames = [np.clip(still + rng.normal(0, 3, still.shape), 0, 255).astype(np.uint8)
              for _ in range(40)]
    with BokehProcessor(BokehSettings(grain="off"), video=True) as processor:
        mattes = [processor.compute_matte(f, 33 * t).copy() for t, f in enumerate(frames)]
        passes = processor.finder.passes
    assert passes <= len(frames) // 4, passes  # measured 10 passes for 60 frames
    assert min(iou(m > 0.5, mattes[0] > 0.5) for m in mattes) > 0.98
    panned = [np.ascontiguousarray(np.roll(f, 3 * t, axis=1)) for t, f in enumerate(frames)]
    with BokehProcessor(BokehSettings(grain="off"), video=True) as processor:
        for t, f in enumerate(panned):
            processor.compute_matte(f, 33 * t)
        assert processor.finder.passes >= len(frames)  # what moves is looked at every frame
