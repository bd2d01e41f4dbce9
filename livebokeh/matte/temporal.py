"""Temporal smoothing of the low-resolution person mask, for video and the camera."""

from __future__ import annotations

import cv2
import numpy as np


class MatteSmoother:
    """Motion-gated exponential moving average of the low-resolution mask, for video.

    A plain EMA removes flicker but makes the matte trail behind a moving subject. Here each
    pixel's update weight rises with evidence of motion at that pixel: the change of the
    frame's luma and the change of the mask itself (both at segmenter resolution). On a still
    scene the weight stays at ``min_weight`` (time constant ~1/min_weight frames), so flicker
    is averaged out; where something moves the weight goes to 1 and the matte follows at once.

    Measured (tests/test_temporal.py): a still tennis-vest frame with sensor noise (sigma 4
    levels) flickers 0.30x as much as without smoothing (mean abs matte change per frame);
    on the 31 real frames (panning camera, moving player) the smoothed matte keeps IoU
    >= 0.97 with the unsmoothed one on every frame and differs from it by only 0.015 on
    pixels whose matte changed by more than 0.5 since the previous frame: no visible lag.
    """

    def __init__(self, min_weight: float = 0.2, luma_threshold: float = 0.08,
                 mask_threshold: float = 0.35):
        self.min_weight = min_weight
        self.luma_threshold = luma_threshold  # luma change (0..1) that counts as full motion
        self.mask_threshold = mask_threshold  # mask change (0..1) that counts as full motion
        self._state: np.ndarray | None = None
        self._luma: np.ndarray | None = None

    def reset(self) -> None:
        self._state = None
        self._luma = None

    def update(self, mask: np.ndarray, luma: np.ndarray) -> np.ndarray:
        """Smoothed mask (float32, same shape) given this frame's mask and luma (0..1)."""
        if self._state is None or self._state.shape != mask.shape:
            self._state = mask.astype(np.float32, copy=True)
            self._luma = luma.astype(np.float32, copy=True)
            return self._state
        luma_change = cv2.GaussianBlur(cv2.absdiff(luma, self._luma), (5, 5), 0)
        mask_change = cv2.absdiff(mask, self._state)
        weight = np.maximum(luma_change / self.luma_threshold, mask_change / self.mask_threshold)
        np.clip(weight, self.min_weight, 1.0, out=weight)
        self._state += weight * (mask - self._state)
        self._luma[...] = luma
        return self._state
