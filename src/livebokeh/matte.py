"""From the segmenter's low-resolution confidence to a frame-size matte that follows edges.

Three pure steps, each on float32 arrays with 0..1 values (1 = subject, kept sharp):

* ``MatteSmoother``: temporal smoothing for video at the segmenter's resolution.
* ``refine_matte``: fast guided filter (He & Sun) guided by the frame's luma, which snaps the
  blurry 256-pixel mask onto the image's own edges (hair, shoulders) at frame size.
* ``apply_refine_mask``: the user's restore/erase brushes (white keep, black blur, grey auto).
"""

from __future__ import annotations

import cv2
import numpy as np

from livebokeh.imgops import shrink_to

GUIDE_LONG_SIDE = 512  # pixels: resolution at which the guided-filter coefficients are fitted
GUIDE_RADIUS = 6  # pixels at GUIDE_LONG_SIDE: window of the local linear model
GUIDE_EPS = 2e-3  # regulariser (luma in 0..1): smaller follows weaker edges
EDGE_GAIN = 1.3  # contrast of the refined matte around 0.5: >1 narrows the soft edge


def _box(src: np.ndarray, radius: int) -> np.ndarray:
    return cv2.boxFilter(src, cv2.CV_32F, (2 * radius + 1, 2 * radius + 1))


def guided_coefficients(guide: np.ndarray, src: np.ndarray, radius: int, eps: float):
    """Per-pixel (a, b) of the guided filter ``q = a * guide + b`` (both HxW float32)."""
    mean_i = _box(guide, radius)
    mean_p = _box(src, radius)
    cov_ip = _box(guide * src, radius) - mean_i * mean_p
    var_i = _box(guide * guide, radius) - mean_i * mean_i
    a = cov_ip / (var_i + eps)
    b = mean_p - a * mean_i
    return _box(a, radius), _box(b, radius)


class MatteRefiner:
    """Guided upsampling of a low-resolution mask to a frame-size matte.

    The coefficients are fitted at ``GUIDE_LONG_SIDE`` and applied to the full-resolution
    luma, so the cost at frame size is a handful of single-channel passes. Buffers for the
    frame-size arrays are kept between calls (one frame size at a time).
    """

    def __init__(self, radius: int = GUIDE_RADIUS, eps: float = GUIDE_EPS,
                 gain: float = EDGE_GAIN):
        self.radius, self.eps, self.gain = radius, eps, gain
        self._full: dict[str, np.ndarray] = {}

    def _buffers(self, height: int, width: int) -> dict[str, np.ndarray]:
        if not self._full or self._full["luma8"].shape != (height, width):
            self._full = {
                key: np.empty((height, width), dtype)
                for key, dtype in (("luma8", np.uint8), ("a", np.float32), ("b", np.float32))
            }
        return self._full

    def refine(self, rgb: np.ndarray, mask_low: np.ndarray, out: np.ndarray | None = None):
        """Frame-size matte (HxW float32, 0..1) from an RGB uint8 frame and a low-res mask."""
        height, width = rgb.shape[:2]
        buf = self._buffers(height, width)
        cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY, dst=buf["luma8"])
        scale = min(1.0, GUIDE_LONG_SIDE / max(height, width))
        gsize = (max(1, round(width * scale)), max(1, round(height * scale)))
        guide = shrink_to(buf["luma8"], gsize).astype(np.float32) * np.float32(1.0 / 255.0)
        src = cv2.resize(mask_low, gsize, interpolation=cv2.INTER_LINEAR)
        a, b = guided_coefficients(guide, src, self.radius, self.eps)
        # fold the edge gain into the linear model: gain*(a*I + b - 0.5) + 0.5
        a *= self.gain / 255.0  # applied to 8-bit luma below
        b = self.gain * b + 0.5 * (1.0 - self.gain)
        cv2.resize(a, (width, height), dst=buf["a"], interpolation=cv2.INTER_LINEAR)
        cv2.resize(b, (width, height), dst=buf["b"], interpolation=cv2.INTER_LINEAR)
        if out is None:
            out = np.empty((height, width), np.float32)
        cv2.multiply(buf["a"], buf["luma8"], dst=out, dtype=cv2.CV_32F)
        cv2.add(out, buf["b"], dst=out)
        cv2.max(out, 0.0, dst=out)
        cv2.min(out, 1.0, dst=out)
        return out


class MatteSmoother:
    """Motion-gated exponential moving average of the low-resolution mask, for video.

    A plain EMA removes flicker but makes the matte trail behind a moving subject. Here each
    pixel's update weight rises with evidence of motion at that pixel: the change of the
    frame's luma and the change of the mask itself (both at segmenter resolution). On a still
    scene the weight stays at ``min_weight`` (time constant ~1/min_weight frames), so flicker
    is averaged out; where something moves the weight goes to 1 and the matte follows at once.
    """

    def __init__(self, min_weight: float = 0.3, luma_threshold: float = 0.06,
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


def apply_refine_mask(matte: np.ndarray, refine: np.ndarray) -> np.ndarray:
    """Apply a user's brush mask in place: 255 keeps sharp, 0 blurs, ~128 leaves it automatic.

    ``refine`` is HxW uint8 at the matte's size. Values ramp over 60 grey levels on each side
    of the neutral band so a feathered brush stroke gives a feathered result.
    """
    r = refine.astype(np.float32)
    keep = np.clip((r - 170.0) / 60.0, 0.0, 1.0)
    erase = np.clip((86.0 - r) / 60.0, 0.0, 1.0)
    matte *= 1.0 - keep - erase
    matte += keep
    return matte
