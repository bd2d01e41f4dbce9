"""Temporal smoothing: less flicker on still scenes, and no lag behind a moving subject.

The smoother averages the person confidence over time after moving the last state along
the optical flow (livebokeh.matte.temporal), so it should calm a still scene without
trailing a person who moves.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np

from conftest import PEOPLE, REPO, need
from livebokeh.eval.matte_quality import still_camera_clip, video_mattes
from livebokeh.eval.metrics import iou
from livebokeh.io.images import read_image


def flicker(sequence) -> float:
    """Mean absolute change of the matte between consecutive frames (0..1)."""
    return float(np.mean([np.abs(a - b).mean() for a, b in pairwise(sequence)]))


class Frames:
    def __init__(self, frames, fps=30.0):
        self.frames, self.fps = frames, fps


def test_still_scene_flicker_drops():
    rng = np.random.default_rng(1)
    still, _ = read_image(REPO / "assets" / "portrait.jpg")
    noisy = [np.clip(still + rng.normal(0, 4, still.shape), 0, 255).astype(np.uint8)
             for _ in range(20)]
    raw = video_mattes(Frames(noisy), temporal=False)
    smooth = video_mattes(Frames(noisy), temporal=True)
    assert flicker(raw) > 0.0005  # sensor noise alone makes the per-frame matte shimmer
    # measured 0.73x: what is left is the full-resolution luma the edge follows, which the
    # smoothing of the confidence does not touch (mean change 0.0006 per frame)
    assert flicker(smooth) < 0.8 * flicker(raw), (flicker(smooth), flicker(raw))


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
