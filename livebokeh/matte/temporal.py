"""Temporal smoothing of the person confidence for video: a motion-compensated average.

The model's confidence flickers from frame to frame at the subject's edge and in uncertain
places. Averaging over time removes that, but a plain average trails behind anything that
moves: a one-frame lag alone costs a perfect matte a dtSSD of 18 on the DAVIS clips, more
than the raw model's 12. So the previous state is first moved to where the image moved
(DIS optical flow on the 256 px crops the model saw, under 1 ms), then averaged with the
new confidence. Where the flow does not explain the image (occlusions, fast limbs, the
frame's border), the warped state is wrong, so each pixel's weight for the new confidence
rises with the warp's residual: ``weight = clip(MIN_WEIGHT + ERROR_GAIN * residual, MIN_WEIGHT,
1)``, residual in luma units (0..1).

Everything happens on the model's grid over its region (``PersonMask``); the region itself
moves with the subject, so the warp also carries the state from the last region into this one.

``predict`` offers that carried state in place of a model pass where the flow explains the
image around the subject's edge (a webcam on a desk, someone sitting still): the finder then
skips the model on that frame (``SubjectFinder.predictor``). On the DAVIS clips (moving
cameras, dancers) the flow never explains enough, so nothing changes there; on the still-camera
clip about 40 % of the model passes go (see ``PREDICT_*``).
"""

from __future__ import annotations

import threading

import cv2
import numpy as np

from livebokeh.perception.regions import Box
from livebokeh.perception.subject import PersonMask

MIN_WEIGHT = 0.2  # weight of the new confidence where the image is explained by the motion
ERROR_GAIN = 5.0  # weight per unit of warp residual (luma 0..1): 0.16 residual → 1
# DIS flow: the fastest preset, searched down to half the 256 px grid (the preset stops at a
# quarter) with patches 6 px apart (its own: 4). DAVIS half A dtSSD (main) 10.03 → 9.99, half
# B 7.14 → 7.07, for 0.41 → 0.83 ms a frame; patches 4 px apart scored 9.98 for 1.36 ms,
# the whole grid (finest scale 0) costs 5.2 ms. Fitted on half A, checked on half B.
FLOW_PRESET = cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST
FLOW_FINEST_SCALE = 1
FLOW_PATCH_STRIDE = 6
PREDICT_RESIDUAL = 0.06  # luma (0..1): a pixel whose warp residual is above this is unexplained
PREDICT_UNEXPLAINED = 0.02  # share of the edge band that may be unexplained for a prediction:
# on the still-camera clip 2 % of the band (median) is, on the DAVIS clips 9-44 % (10th to 90th
# percentile), so moving footage always gets the model
PREDICT_BAND = (0.05, 0.95)  # state values that make the edge band ...
PREDICT_BAND_GROWTH = 9  # ... grown by this many grid pixels (a 256 px grid: 3.5 %)
_BAND_KERNEL = np.ones((PREDICT_BAND_GROWTH, PREDICT_BAND_GROWTH), np.uint8)


def _homogeneous(matrix: np.ndarray) -> np.ndarray:
    return np.vstack([matrix, [0.0, 0.0, 1.0]])


class MatteSmoother:
    """Motion-compensated exponential moving average of ``PersonMask.confidence``.

    The flow runs on the images the model saw (``PersonMask.seen``), the last one first
    moved onto this frame's region, so it is measured at the subject's own scale: on the
    DAVIS clips that scored like flow on the full 854x480 frame (dtSSD 8.98), where flow on
    the frame at 480 px gave 9.06 and at 256 px 9.17, for the cost of a 256x256 flow.
    """

    def __init__(self, min_weight: float = MIN_WEIGHT, error_gain: float = ERROR_GAIN):
        self.min_weight, self.error_gain = min_weight, error_gain
        self._flow = cv2.DISOpticalFlow_create(FLOW_PRESET)
        self._flow.setFinestScale(FLOW_FINEST_SCALE)
        self._flow.setPatchStride(FLOW_PATCH_STRIDE)
        self._state: np.ndarray | None = None
        self._seen_luma: np.ndarray | None = None
        self._region: Box | None = None
        self._grid: tuple[np.ndarray, np.ndarray] | None = None
        self._motion: tuple | None = None  # (seen, region, luma, warped, residual, maps)
        self._maps: tuple[np.ndarray, np.ndarray] | None = None  # the last update's warp
        # a live loop whose blur is switched on between perceiving a frame and finishing it
        # updates on the finishing thread while the next frame's prediction runs ahead
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self._state = self._seen_luma = self._region = self._motion = self._maps = None

    def predict(self, seen: np.ndarray, region: Box) -> np.ndarray | None:
        """The last state carried to this frame (the crop ``seen`` over ``region``) along the
        flow, or None: no state yet, or the flow leaves over ``PREDICT_UNEXPLAINED`` of the
        edge band unexplained. The flow is kept for ``update`` of the same ``seen``."""
        with self._lock:
            if self._state is None or self._state.shape != seen.shape[:2]:
                return None
            _, warped, residual, _ = self._carried(seen, region)
        band = cv2.inRange(warped, *PREDICT_BAND)
        band = cv2.dilate(band, _BAND_KERNEL)
        unexplained = cv2.bitwise_and(band, cv2.compare(residual, PREDICT_RESIDUAL,
                                                        cv2.CMP_GT))
        if cv2.countNonZero(unexplained) > PREDICT_UNEXPLAINED * cv2.countNonZero(band):
            return None
        return warped

    def update(self, person: PersonMask) -> np.ndarray:
        """Smoothed confidence on ``person``'s grid (owned by the smoother until the next call)."""
        with self._lock:
            if self._state is None or self._state.shape != person.confidence.shape:
                state = person.confidence.copy()
                seen_luma = cv2.cvtColor(person.seen, cv2.COLOR_RGB2GRAY)
                self._maps = None
            else:
                seen_luma, warped, residual, self._maps = self._carried(person.seen,
                                                                        person.region)
                weight = residual  # the cached residual is not used again
                cv2.multiply(weight, self.error_gain, dst=weight)
                cv2.add(weight, self.min_weight, dst=weight)
                cv2.min(weight, 1.0, dst=weight)
                state = warped + weight * (person.confidence - warped)
            self._state, self._seen_luma, self._region = state, seen_luma, person.region
            self._motion = None
            return state

    def _carried(self, seen: np.ndarray, region: Box):
        """This crop's luma and ``_warp_state`` for it, computed once per frame (``predict``,
        ``update``; the caller holds the lock)."""
        motion = self._motion
        if motion is None or motion[0] is not seen or motion[1] != region:
            seen_luma = cv2.cvtColor(seen, cv2.COLOR_RGB2GRAY)
            motion = self._motion = (seen, region, seen_luma,
                                     *self._warp_state(region, seen_luma))
        return motion[2:]

    def carry(self, grid: np.ndarray) -> np.ndarray | None:
        """``grid`` (float32, 1-4 channels, over the region before the last ``update``) moved
        along that update's motion onto its region, as the state was; None after a restart."""
        with self._lock:
            maps = self._maps
        if maps is None or maps[0].shape != grid.shape[:2]:
            return None
        return cv2.remap(grid, *maps, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    def _warp_state(self, region: Box, seen_luma: np.ndarray):
        """The last state moved onto this frame's grid, the warp's luma residual (0..1) and
        the warp's maps (``cv2.remap``'s, from this grid into the last)."""
        size = seen_luma.shape[1], seen_luma.shape[0]
        # this grid → frame → the last grid: an affine (the region moved with the subject)
        to_frame = np.linalg.inv(_homogeneous(region.to_grid(size)))
        to_last = (_homogeneous(self._region.to_grid(size)) @ to_frame)[:2]
        last_here = cv2.warpAffine(self._seen_luma, to_last, size, flags=cv2.INTER_LINEAR |
                                   cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
        flow = self._flow.calc(seen_luma, last_here, None)  # this grid → last image, here
        grid_x, grid_y = self._base_grid(size)
        flow[..., 0] += grid_x
        flow[..., 1] += grid_y
        affine = to_last.tolist()
        map_x = affine[0][0] * flow[..., 0] + affine[0][2]
        map_y = affine[1][1] * flow[..., 1] + affine[1][2]
        warped = cv2.remap(self._state, map_x, map_y, cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
        before = cv2.remap(self._seen_luma, map_x, map_y, cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
        residual = cv2.absdiff(seen_luma, before).astype(np.float32) * np.float32(1 / 255)
        residual = cv2.GaussianBlur(residual, (5, 5), 0)
        outside = (map_x < -0.5) | (map_x > size[0] - 0.5) | (map_y < -0.5) | \
            (map_y > size[1] - 0.5)
        residual[outside] = 1.0  # nothing known from the last frame there
        return warped, residual, (map_x, map_y)

    def _base_grid(self, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        if self._grid is None or self._grid[0].shape != (size[1], size[0]):
            self._grid = tuple(np.meshgrid(np.arange(size[0], dtype=np.float32),
                                           np.arange(size[1], dtype=np.float32)))
        return self._grid
