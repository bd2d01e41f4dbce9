"""Temporal smoothing: less flicker on still scenes, and no lag behind a moving subject.

The smoother averages the person confidence over time after moving the last state along
the optical flow (livebokeh.matte.temporal), so it should calm a still scene without
trailing a person who moves.
"""

from __future__ import annotations

import cv2
import numpy as np

from conftest import DAVIS, PEOPLE, REPO, need
from livebokeh.eval.matte_quality import static_flips, still_camera_clip, video_mattes
from livebokeh.eval.metrics import iou
from livebokeh.io.images import read_image


class Frames:
    def __init__(self, frames, fps=30.0):
        self.frames, self.fps = frames, fps


def test_static_background_flickers_less():
    """Still-camera clip (a person walking over a static background with sensor noise): on
    the pixels the person never covers, smoothing calms the matte (measured: flips 0.00061 →
    0.00010 of those pixels per frame, mean change 0.0011 → 0.0005)."""
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
    rng = np.random.default_rng(2)
    still, _ = read_image(REPO / "assets" / "portrait.jpg")
    frames = [np.clip(still + rng.normal(0, 3, still.shape), 0, 255).astype(np.uint8)
              for _ in range(40)]
    mattes, passes = _mattes_and_passes(frames, predictor=True)
    assert passes <= len(frames) // 4, passes  # measured 7 passes for 40 frames
    assert min(iou(m > 0.5, mattes[0] > 0.5) for m in mattes) > 0.98


def _mattes_and_passes(frames, predictor: bool, **settings):
    from livebokeh.pipeline import BokehProcessor
    from livebokeh.settings import BokehSettings

    with BokehProcessor(BokehSettings(grain="off", **settings), video=True) as processor:
        if not predictor:
            processor.finder.predictor = None
        mattes = [processor.compute_matte(f, 33 * t).copy() for t, f in enumerate(frames)]
        return mattes, processor.finder.passes


def test_a_panned_scene_runs_the_model_every_third_frame_at_least_with_the_same_matte():
    """A webcam-like scene that moves (a slow pan, sensor noise): the crop changes every
    frame, but the flow explains it, so the smoother's carried state stands in for the model
    on two frames in a row at most, and the matte stays that of a model pass on every frame."""
    from livebokeh.app.bench import animated

    rng = np.random.default_rng(3)
    still, _ = read_image(REPO / "assets" / "portrait.jpg")
    frames = [np.clip(f + rng.normal(0, 3, f.shape), 0, 255).astype(np.uint8)
              for f in animated(still, 40)]
    every, every_passes = _mattes_and_passes(frames, predictor=False)
    mattes, passes = _mattes_and_passes(frames, predictor=True)
    assert every_passes >= len(frames)  # the moving crop alone never skips the model
    assert len(frames) // 3 <= passes <= 0.75 * len(frames), passes  # measured 18 of 40
    assert min(iou(m > 0.5, e > 0.5) for m, e in zip(mattes, every, strict=True)) > 0.99
    assert max(float(np.abs(m - e).mean()) for m, e in zip(mattes, every, strict=True)) < 0.005


def test_moving_footage_gets_the_model_on_every_frame():
    """A real clip with a moving camera and a moving person (DAVIS swing): the flow leaves
    too much of the edge unexplained for a prediction, so every frame gets the model and the
    matte is exactly what it is without the predictor."""
    from livebokeh.eval.matte_quality import load_davis

    clip = load_davis(need(DAVIS), ["swing"])[0]
    frames = clip.frames[:30]
    every, every_passes = _mattes_and_passes(frames, predictor=False)
    mattes, passes = _mattes_and_passes(frames, predictor=True)
    assert passes == every_passes
    assert all(np.array_equal(m, e) for m, e in zip(mattes, every, strict=True))


def _textured(size: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.random((size // 8, size // 8, 3)).astype(np.float32)
    return (cv2.resize(noise, (size, size), interpolation=cv2.INTER_CUBIC).clip(0, 1)
            * 255).astype(np.uint8)


def test_predict_carries_the_state_along_the_motion_and_refuses_what_it_cannot_explain():
    """Synthetic, exact truth: a textured scene and a disc-shaped confidence. Shifted by
    (3, 2) px, the prediction is the disc shifted by the same; where a new object appears
    on the disc's edge (not explained by any motion) there is no prediction."""
    from livebokeh.matte.temporal import MatteSmoother
    from livebokeh.perception.regions import Box
    from livebokeh.perception.subject import PersonMask

    size, region = 256, Box(0.0, 0.0, 256.0, 256.0)
    scene = _textured(size + 16, 4)
    first = np.ascontiguousarray(scene[8:8 + size, 8:8 + size])
    shifted = np.ascontiguousarray(scene[6:6 + size, 5:5 + size])  # content moves (+3, +2)
    disc = np.zeros((size, size), np.float32)
    cv2.circle(disc, (128, 128), 60, 1.0, -1)
    disc = cv2.GaussianBlur(disc, (7, 7), 0)
    moved = np.zeros_like(disc)
    moved[2:, 3:] = disc[:-2, :-3]
    smoother = MatteSmoother()
    assert smoother.predict(first, region) is None  # no state yet
    smoother.update(PersonMask(disc, first, region))
    predicted = smoother.predict(shifted, region)
    assert predicted is not None
    assert iou(predicted > 0.5, moved > 0.5) > 0.97
    assert iou(predicted > 0.5, disc > 0.5) < iou(predicted > 0.5, moved > 0.5)
    assert np.array_equal(smoother.update(PersonMask(predicted, shifted, region)), predicted)
    newcomer = shifted.copy()
    newcomer[100:160, 175:215] = (255, 0, 255)  # an object over the disc's right edge
    assert smoother.predict(newcomer, region) is None


def test_carry_moves_a_grid_along_the_last_updates_motion():
    """What the refiner carries (its coefficients) moves as the state did: shifted with the
    content by (3, 2) px; nothing to carry before a second update or after a reset."""
    from livebokeh.matte.temporal import MatteSmoother
    from livebokeh.perception.regions import Box
    from livebokeh.perception.subject import PersonMask

    size, region = 256, Box(0.0, 0.0, 256.0, 256.0)
    scene = _textured(size + 16, 5)
    first = np.ascontiguousarray(scene[8:8 + size, 8:8 + size])
    shifted = np.ascontiguousarray(scene[6:6 + size, 5:5 + size])  # content moves (+3, +2)
    grid = cv2.merge([c.astype(np.float32) for c in cv2.split(_textured(size, 6))] +
                     [np.ones((size, size), np.float32)])
    smoother = MatteSmoother()
    confidence = np.full((size, size), 0.5, np.float32)
    smoother.update(PersonMask(confidence, first, region))
    assert smoother.carry(grid) is None  # a first frame: no motion yet
    smoother.update(PersonMask(confidence, shifted, region))
    carried = smoother.carry(grid)
    inner = (slice(20, -20), slice(20, -20))
    expected = np.zeros_like(grid)
    expected[2:, 3:] = grid[:-2, :-3]
    assert np.abs(carried - expected)[inner].mean() < 0.1 * np.abs(grid - expected)[inner].mean()
    assert smoother.carry(grid[:128, :128]) is None  # another grid: not this motion's
    smoother.reset()
    assert smoother.carry(grid) is None
