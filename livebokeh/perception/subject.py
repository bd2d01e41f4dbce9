"""Where the people are, frame after frame: the selfie model run on a tracked box.

A person a third of the frame tall gets about 50 of the 144 rows of the landscape model when
it sees the whole frame. ``SubjectFinder`` runs the general model (256x256) on a square box
``CROP_SCALE`` times the subject's size instead, placed from the previous frame's mask, so the
same person gets about 220 rows. The whole frame is looked at again every
``RECHECK_FRAMES`` frames and whenever the subject is lost, so someone who walks in is found
within that many frames; that costs one extra model pass per ``RECHECK_FRAMES`` frames.
(With ``people="main"`` the whole frame is looked at only when the subject is lost.) While
the box holds still and its crop has not changed (``SKIP_*``), the model is not run again;
where a ``predictor`` (the video matte's smoother) can carry the last answer along the image's
motion, it stands in for the model on up to ``PREDICT_MAX`` frames in a row.

``people="all"`` keeps everyone (one box around all of them); ``people="main"`` keeps one
person sharp: the largest and most central one when first seen (or the one at ``subject``),
then whatever overlaps where that person was (a short memory, so a person split in two by a
lamp post stays one person) — bystanders are dropped. In both modes blobs smaller
than ``MIN_BLOB_SHARE`` of the frame are dropped (OBS background removal calls this its
contour filter).

Measured on the DAVIS person clips (scripts/measure_video_matte.py, docs/results.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from livebokeh.perception.regions import Box, crop, mask_box
from livebokeh.perception.segmentation import (
    MODEL_SIZE,
    PersonSegmenter,
    choose_model,
    segmenter_size,
)

CROP_SCALE = 1.15  # box side / subject's longer side: tighter gives the edge more model
# pixels; on the DAVIS clips 1.4 → 1.15 raised boundary F 0.59 → 0.66, and 1.1 started to
# cut off a swinging leg
RECHECK_FRAMES = 10  # look at the whole frame again every this many frames (+10 % model time)
MIN_BLOB_SHARE = 0.001  # person blobs smaller than this share of the frame are dropped
SHRINK_LIMIT = 0.95  # the box shrinks at most to this share of its side per frame, so a
# person briefly split by an occluder is not cropped down to the visible half
BORDER_GROWTH = 1.25  # the box grows by this factor when the mask touches its border
BOX_HOLD = 0.02  # the box stays where it is while the new one is this close (share of side):
# on DAVIS it cost dtSSD +0.3 %, and it lets a still scene skip the model (below)
SKIP_LEVELS = 12  # luma levels: a crop pixel changed by more than this is a real change
SKIP_CHANGED = 0.005  # share of changed crop pixels under which the model is skipped
SKIP_MAX = 15  # frames in a row at most (the model still runs twice a second at 30 fps)
PREDICT_MAX = 2  # frames in a row the predictor may stand in for the model. Still-camera
# clip (people=all), boundary F / IoU / static flips: none 0.829 / 0.971 / 0.019 %, 1 in a
# row 0.822 / 0.970 / 0.023 %, 2: 0.820 / 0.970 / 0.022 %, 3: 0.821 / 0.970 / 0.022 %; the
# DAVIS clips never get a prediction. 2 keeps the model 10 times a second at 30 fps.
PRESENCE_DECAY = 0.8  # per frame: how long the main subject's past places count as theirs
PRESENCE_REACH = 0.04  # share of the box side a blob may be from the main subject's past
KEEP_FEATHER = 0.03  # share of the box side kept around a kept blob (its soft edge)
CROP_MODEL = "selfie"  # the square general model fits a square box ...
WIDE_CROP_MODEL = "selfie-landscape"  # ... and the 16:9 landscape model a wide group of people
WIDE_PEOPLE = 1.4  # people's box width / height from which the wide model fits better: a
# square box around two people side by side reaches far past the frame's top and bottom
NARROW_PEOPLE = 1.1  # ... and back to the square box only when they are narrower than this
PEOPLE_MODES = ("all", "main")


@dataclass
class PersonMask:
    """What perception hands on: person confidence over a frame region.

    ``confidence`` float32 0..1 (kept people only), ``seen`` the RGB uint8 image the model
    saw (same size: the guide for refinement), ``region`` the frame rectangle in pixels that
    both cover (it may reach past the frame's edges), ``model`` the selfie model's registry
    name (each has its own confidence calibration). Arrays are owned: safe across threads.
    ``carried``: the confidence is the last model pass's, not this frame's: kept where the
    crop did not change, or carried along the image's motion by the ``predictor``.
    """

    confidence: np.ndarray
    seen: np.ndarray
    region: Box
    model: str = CROP_MODEL
    carried: bool = False


def _blobs(mask: np.ndarray, min_area: float) -> tuple[np.ndarray, np.ndarray]:
    """Labels and stats of the person blobs (confidence > 0.5) at least ``min_area`` px."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        (mask > 0.5).astype(np.uint8), connectivity=8)
    small = np.flatnonzero(stats[:, cv2.CC_STAT_AREA] < min_area)
    stats[small, cv2.CC_STAT_AREA] = 0
    stats[0, cv2.CC_STAT_AREA] = 0  # the background label
    return labels, stats


def _kept(labels: np.ndarray, count: int, wanted) -> np.ndarray:
    """uint8 mask (1 = kept) of the pixels whose label is in ``wanted``, by a look-up table
    over the ``count`` labels (``np.isin`` sorts: 0.23 against 0.03 ms on a 256 px grid)."""
    table = np.zeros(count, np.uint8)
    table[list(wanted)] = 1
    return table[labels]


def _centrality_score(stats: np.ndarray, width: int, height: int) -> np.ndarray:
    """Area times closeness to the centre: how much a blob looks like the main subject."""
    cx = (stats[:, cv2.CC_STAT_LEFT] + stats[:, cv2.CC_STAT_WIDTH] / 2) / width - 0.5
    cy = (stats[:, cv2.CC_STAT_TOP] + stats[:, cv2.CC_STAT_HEIGHT] / 2) / height - 0.5
    return stats[:, cv2.CC_STAT_AREA] * (1.0 - np.hypot(cx, cy))


class SubjectFinder:
    """Person confidence per video frame from the selfie model on a tracked box.

    Use as a context manager (it owns the MediaPipe tasks). ``find`` must see the frames of
    one stream in order.
    """

    def __init__(self, people: str = "all", model: str = "auto", video: bool = True,
                 subject: tuple[float, float] | None = None):
        if people not in PEOPLE_MODES:
            raise ValueError(f"people must be one of {PEOPLE_MODES}")
        self.people = people
        self.subject = subject  # the main subject's point (fractions) when first looking
        self.segmenter = PersonSegmenter(model, video=video)
        self.crop_model = CROP_MODEL  # the model the box fits
        self.passes = 0  # model passes so far (frames whose crop did not change skip it)
        # (crop, box) → confidence carried from the last frame along the motion, or None
        self.predictor: Callable[[np.ndarray, Box], np.ndarray | None] | None = None
        self.reset()

    def __enter__(self) -> SubjectFinder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.segmenter.close()

    def reset(self) -> None:
        """Forget the stream: the next frame is looked at as if it were the first."""
        self.box: Box | None = None
        self._people: Box | None = None  # the kept people's own box (frame px)
        self._presence: np.ndarray | None = None  # main subject's recent places, full grid
        self._last: PersonMask | None = None  # the last box pass that ran the model
        self._frame, self._skipped, self._pick = 0, 0, self.subject
        self._predicted = 0  # frames in a row the predictor stood in for the model

    def choose(self, people: str, subject: tuple[float, float] | None) -> None:
        """Switch the mode, or make the person at ``subject`` (fractions of width and height)
        the main subject from the next frame on; nothing changes if both are as they were."""
        if (people, subject) != (self.people, self.subject):
            self.people, self.subject = people, subject
            self.reset()

    def find(self, rgb: np.ndarray, timestamp_ms: int | None = None) -> PersonMask:
        """Kept people's confidence for this frame, over the tracked box or the whole frame."""
        height, width = rgb.shape[:2]
        recheck = self.people == "all" and self._frame % RECHECK_FRAMES == 0
        if self.box is None or recheck:
            full = self._look_at_frame(rgb, timestamp_ms)
            if self.box is None:  # nobody: the whole frame's (empty) confidence
                self._frame += 1
                return full
        self._frame += 1
        return self._look_at_box(rgb, timestamp_ms, width, height)

    def _look_at_frame(self, rgb: np.ndarray, timestamp_ms: int | None) -> PersonMask:
        """Whole-frame pass: find people and (re)place the box; returns that pass's mask."""
        height, width = rgb.shape[:2]
        confidence = self.segmenter.segment(rgb, timestamp_ms)
        self.passes += 1
        seen = self.segmenter.last_input.copy()
        grid = confidence.shape[1], confidence.shape[0]
        labels, stats = _blobs(confidence, MIN_BLOB_SHARE * grid[0] * grid[1])
        chosen = self._choose(labels, stats, grid)
        frame = Box.frame(width, height)
        keep = _kept(labels, len(stats), chosen)
        found = mask_box(keep)
        if found is not None:
            people = frame.grid_box(found, grid)
            if self.people == "all" and self._people is not None:  # newcomers join the box
                people = people.union(self._people)
            if self.people == "all" or self.box is None:
                self._fit(people, width, height)
            self._remember(keep.astype(np.float32), frame, width, height)
        else:
            self.box = None
        confidence *= keep
        return PersonMask(confidence, seen, frame, choose_model(width, height,
                                                                self.segmenter.model_choice))

    def _choose(self, labels: np.ndarray, stats: np.ndarray, grid: tuple[int, int]) -> list[int]:
        """Blob labels to keep on a whole-frame pass (all of them, or the main subject's)."""
        present = np.flatnonzero(stats[:, cv2.CC_STAT_AREA] > 0)
        if self.people == "all" or len(present) == 0:
            return list(present)
        if self._pick is not None:
            x, y = self._pick
            self._pick = None
            px, py = min(int(x * grid[0]), grid[0] - 1), min(int(y * grid[1]), grid[1] - 1)
            picked = self._nearest(labels, present, px, py)
            return [picked] if picked is not None else []
        if self._presence is not None:
            overlapping = self._overlapping(labels, stats, self._presence, grid[0])
            if overlapping:
                return overlapping
        return [int(present[np.argmax(_centrality_score(stats[present], *grid))])]

    @staticmethod
    def _nearest(labels: np.ndarray, present: np.ndarray, px: int, py: int) -> int | None:
        """The blob at (px, py), else the nearest within 5 % of the grid; None if none."""
        if labels[py, px] in present:
            return int(labels[py, px])
        ys, xs = np.nonzero(np.isin(labels, present))
        if len(xs) == 0:
            return None
        distance = np.hypot(xs - px, ys - py)
        best = int(np.argmin(distance))
        return int(labels[ys[best], xs[best]]) if distance[best] <= 0.05 * labels.shape[1] \
            else None

    @staticmethod
    def _overlapping(labels: np.ndarray, stats: np.ndarray, presence: np.ndarray,
                     side: float) -> list[int]:
        """Blobs within ``PRESENCE_REACH`` of the main subject's recent places."""
        reach = max(3, int(PRESENCE_REACH * side) | 1)
        near = cv2.dilate((presence > 0.05).astype(np.uint8), np.ones((reach, reach), np.uint8))
        hits = np.bincount(labels[near > 0], minlength=len(stats))
        return [i for i in np.flatnonzero(hits) if stats[i, cv2.CC_STAT_AREA] > 0]

    def _look_at_box(self, rgb: np.ndarray, timestamp_ms: int | None, width: int,
                     height: int) -> PersonMask:
        """Box pass: the general model on the tracked box; keep people, move the box."""
        box, model = self.box, self.crop_model
        size = MODEL_SIZE[model]
        seen = crop(rgb, box, size)
        if self._unchanged(box, seen):  # the box sees what it saw: the last answer stands
            self._skipped += 1
            return PersonMask(self._last.confidence.copy(), seen, box, model, carried=True)
        predicted = self._predicted_confidence(seen, box)
        if predicted is not None:
            return PersonMask(predicted, seen, box, model, carried=True)
        confidence = self.segmenter.segment_small(seen, model, timestamp_ms)
        self.passes += 1
        scale = (box.width / size[0]) * (box.height / size[1])  # frame px per model px
        labels, stats = _blobs(confidence, MIN_BLOB_SHARE * width * height / scale)
        present = [int(i) for i in np.flatnonzero(stats[:, cv2.CC_STAT_AREA] > 0)]
        if self.people == "main" and self._presence is not None and present:
            presence = self._presence_in(box, size, width, height)
            present = self._overlapping(labels, stats, presence, size[0]) or []
        keep = _kept(labels, len(stats), present)
        if not present:
            self.box = None  # lost: look at the whole frame next time
        else:
            self._move_box(box, keep, size, width, height)
            self._remember(keep.astype(np.float32), box, width, height)
        feather = max(3, int(KEEP_FEATHER * size[0]) | 1)
        confidence *= cv2.dilate(keep, np.ones((feather, feather), np.uint8))
        self._last, self._skipped = PersonMask(confidence, seen, box, model), 0
        return PersonMask(confidence.copy(), seen, box, model)

    def _predicted_confidence(self, seen: np.ndarray, box: Box) -> np.ndarray | None:
        """The predictor's answer for this crop, unless it answered the last frame already."""
        if self.predictor is None or self._last is None or self._predicted >= PREDICT_MAX:
            self._predicted = 0
            return None
        confidence = self.predictor(seen, box)
        self._predicted = 0 if confidence is None else self._predicted + 1
        return confidence

    def _unchanged(self, box: Box, seen: np.ndarray) -> bool:
        """Whether the model may be skipped: same box, and under ``SKIP_CHANGED`` of the
        crop's pixels changed by more than ``SKIP_LEVELS`` since the model last ran (at most
        ``SKIP_MAX`` frames in a row)."""
        last = self._last
        if last is None or last.region != box or self._skipped >= SKIP_MAX:
            return False
        change = cv2.absdiff(cv2.cvtColor(seen, cv2.COLOR_RGB2GRAY),
                             cv2.cvtColor(last.seen, cv2.COLOR_RGB2GRAY))
        return cv2.countNonZero(cv2.compare(change, SKIP_LEVELS, cv2.CMP_GT)) < \
            SKIP_CHANGED * change.size

    def _move_box(self, box: Box, keep: np.ndarray, size: tuple[int, int], width: int,
                  height: int) -> None:
        """Place the next frame's box around the people kept in this one."""
        people = box.grid_box(mask_box(keep), size).clipped_to(width, height)
        self._fit(people, width, height, box, _cut_off(keep, box, width, height))

    def _fit(self, people: Box, width: int, height: int, last: Box | None = None,
             cut_off: bool = False) -> None:
        """The box (and its model) around ``people``, ``CROP_SCALE`` times their size.

        From ``last`` (this frame's box) it shrinks by ``SHRINK_LIMIT`` at most, grows by
        ``BORDER_GROWTH`` where someone is cut off, and stays while within ``BOX_HOLD``.
        """
        model = _crop_model(people, self.segmenter.model_choice, self.crop_model)
        aspect = MODEL_SIZE[model][0] / MODEL_SIZE[model][1]
        side = CROP_SCALE * max(people.width, people.height * aspect)  # the box's width
        same = last is not None and model == self.crop_model
        if same:
            side = max(side, SHRINK_LIMIT * last.width)
            if cut_off:
                side = max(side, BORDER_GROWTH * last.width)
        side = min(max(side, 32.0), CROP_SCALE * max(width, height * aspect))
        cx, cy = (people.x0 + people.x1) / 2, (people.y0 + people.y1) / 2
        box = Box(cx - side / 2, cy - side / aspect / 2, cx + side / 2, cy + side / aspect / 2)
        if not (same and _close(box, last, BOX_HOLD)):  # a still subject keeps its box
            self.box, self.crop_model = box, model
        self._people = people

    def _remember(self, keep: np.ndarray, region: Box, width: int, height: int) -> None:
        """Add the kept people's places (``keep`` over ``region``) to the presence memory."""
        if self.people != "main":
            return
        grid = segmenter_size(width, height)
        frame = Box.frame(width, height)
        matrix = _grid_to_grid(region, keep.shape[1::-1], frame, grid)
        placed = cv2.warpAffine(keep, matrix, grid, flags=cv2.INTER_LINEAR)
        if self._presence is None or self._presence.shape != placed.shape:
            self._presence = placed
        else:
            np.maximum(self._presence * np.float32(PRESENCE_DECAY), placed, out=self._presence)

    def _presence_in(self, box: Box, size: tuple[int, int], width: int,
                     height: int) -> np.ndarray:
        """The presence memory resampled onto ``box``'s model grid."""
        grid = segmenter_size(width, height)
        matrix = _grid_to_grid(Box.frame(width, height), grid, box, size)
        return cv2.warpAffine(self._presence, matrix, size, flags=cv2.INTER_LINEAR)


def _crop_model(people: Box, choice: str, current: str) -> str:
    """The model for a box around ``people``: ``auto`` takes the general (square) one unless
    they are a wide group (with hysteresis: back to square only under ``NARROW_PEOPLE``, so a
    group does not flip between models, each flip restarting the temporal smoothing);
    ``general`` and ``landscape`` force one (landscape: 1.7x cheaper per pass, on DAVIS IoU
    0.738 / boundary F 0.527 / dtSSD 10.2 against the general model's 0.839 / 0.643 / 9.05
    and the raw whole-frame model's 0.667 / 0.415 / 12.3)."""
    if choice != "auto":
        return WIDE_CROP_MODEL if choice == "landscape" else CROP_MODEL
    wide = WIDE_PEOPLE if current == CROP_MODEL else NARROW_PEOPLE
    return WIDE_CROP_MODEL if people.width >= wide * people.height else CROP_MODEL


def _close(a: Box, b: Box, tolerance: float) -> bool:
    """Whether no edge of ``a`` is more than ``tolerance`` of b's side from b's."""
    return max(abs(a.x0 - b.x0), abs(a.y0 - b.y0), abs(a.x1 - b.x1),
               abs(a.y1 - b.y1)) <= tolerance * b.width


def _cut_off(keep: np.ndarray, box: Box, width: int, height: int) -> bool:
    """Whether kept people touch a side of the box that lies inside the frame.

    A side past the frame's edge does not count: the frame cuts the person there, and a
    larger box would see no more of them.
    """
    sides = ((keep[0], box.y0 > 0), (keep[-1], box.y1 < height),
             (keep[:, 0], box.x0 > 0), (keep[:, -1], box.x1 < width))
    return any(inside and line.any() for line, inside in sides)


def _grid_to_grid(source: Box, source_size: tuple[int, int], target: Box,
                  target_size: tuple[int, int]) -> np.ndarray:
    """2x3 affine from pixels of a grid over ``source`` to pixels of a grid over ``target``."""
    to_frame = np.vstack([source.to_grid(source_size), [0, 0, 1]])
    return (target.to_grid(target_size) @ np.linalg.inv(to_frame))[:2]

