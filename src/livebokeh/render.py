"""Halo-free background blur and compositing (CPU, NumPy/OpenCV).

Strength (0..100) maps to a blur radius relative to the image diagonal:

    radius_px = strength / 100 * MAX_RADIUS_FRACTION * hypot(width, height)

so the same strength looks the same at any resolution (30 → 1.2 % of the diagonal, about
18 px at 1280x720; 100 → 4 %, about 88 px at 1920x1080). The gaussian style uses
sigma = radius / 2.

Halo-free: the background is blurred with the subject taken out (normalised convolution,
``blur(I * w) / blur(w)``, ``w`` zero where matte > 0.3) and the hole behind the subject is
filled from its surroundings by push-pull, so no subject colour bleeds into the blurred
background; then ``out = matte * I + (1 - matte) * B``. All blurring runs on an image pyramid
level where sigma is about ``LOW_RES_SIGMA`` pixels, so the cost does not grow with strength.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from livebokeh.imgops import halve

MAX_RADIUS_FRACTION = 0.04  # blur radius at strength 100, as a fraction of the diagonal
LOW_RES_SIGMA = 2.5  # pixels: blur is computed on the pyramid level where sigma is ~this
EDGE_CUTOFF = 0.3  # matte above which a pixel gives no colour to the blurred background
HOLE_COVERAGE = 0.05  # normalised-convolution weight below which push-pull fills in


def blur_radius(strength: float, width: int, height: int) -> float:
    """Blur radius in pixels at full resolution for ``strength`` in 0..100."""
    return strength / 100.0 * MAX_RADIUS_FRACTION * math.hypot(width, height)


def pyramid_level(sigma: float, target: float = LOW_RES_SIGMA) -> int:
    """Number of 2x reductions after which ``sigma`` (pixels) is at most about ``target``."""
    return max(0, math.ceil(math.log2(max(sigma, 1e-6) / target)))


def push_pull_fill(premult: np.ndarray, coverage: np.ndarray) -> np.ndarray:
    """Straight colour (float32 HxWxC) where pixels of low ``coverage`` take nearby colour.

    ``premult`` is colour already multiplied by ``coverage`` (HxW, 0..1). Each coarser level
    is composited *behind* the finer one (push-pull), so well-covered pixels keep their own
    colour and empty ones (behind the subject) take the surrounding background's colour.
    """
    h, w = coverage.shape
    if min(h, w) <= 2 or float(coverage.min()) >= HOLE_COVERAGE:
        return premult / np.maximum(coverage, 1e-6)[..., None]
    size = (max(1, w // 2), max(1, h // 2))
    coarse_cov = cv2.resize(coverage, size, interpolation=cv2.INTER_AREA)
    coarse_pre = cv2.resize(premult, size, interpolation=cv2.INTER_AREA)
    boosted = np.minimum(coarse_cov * 4.0, 1.0)  # averaging dilutes coverage: restore it
    coarse_pre *= (boosted / np.maximum(coarse_cov, 1e-6))[..., None]
    filled = cv2.resize(push_pull_fill(coarse_pre, boosted), (w, h),
                        interpolation=cv2.INTER_LINEAR)
    return premult + (1.0 - coverage)[..., None] * filled


def background_weight(matte_low: np.ndarray) -> np.ndarray:
    """Weight of each pixel as background (0..1): ``(1 - matte / EDGE_CUTOFF)^2``, clipped.

    Edge pixels are mixtures of subject and background colour; any with matte above
    ``EDGE_CUTOFF`` are left out entirely and the hole is filled from the surroundings. On
    the halo protocol this cut the ring error from up to 0.45x to at most 0.16x of a naive
    blur (``(1 - matte)^2`` leaked half-subject pixels into the background).
    """
    w = 1.0 - matte_low * np.float32(1.0 / EDGE_CUTOFF)
    np.clip(w, 0.0, 1.0, out=w)
    return w * w


def gaussian_background(rgb: np.ndarray, matte: np.ndarray, sigma: float):
    """Blurred background with the subject removed, at a reduced resolution (float32 RGB).

    ``sigma`` is in full-resolution pixels. Returns the low-resolution image; the caller
    upsamples it once to frame size.
    """
    level = pyramid_level(sigma)
    small = halve(rgb, level).astype(np.float32)
    matte_low = halve(matte, level)
    weight = background_weight(matte_low)
    sigma_low = sigma / (1 << level)
    premult = cv2.GaussianBlur(small * weight[..., None], (0, 0), sigma_low)
    coverage = cv2.GaussianBlur(weight, (0, 0), sigma_low)
    return push_pull_fill(premult, coverage)


def composite(rgb: np.ndarray, matte: np.ndarray, background_low: np.ndarray,
              out: np.ndarray, work: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """``out = matte * rgb + (1 - matte) * upsample(background_low)``, all frame size uint8.

    ``work`` caches the frame-size scratch buffers between calls (pass the same dict).
    """
    work = {} if work is None else work
    h, w = rgb.shape[:2]
    if work.get("bg") is None or work["bg"].shape != rgb.shape:
        work["bg"] = np.empty_like(rgb)
        work["inv"] = np.empty((h, w), np.float32)
    low8 = cv2.convertScaleAbs(background_low)
    cv2.resize(low8, (w, h), dst=work["bg"], interpolation=cv2.INTER_LINEAR)
    cv2.subtract(1.0, matte, dst=work["inv"])
    return cv2.blendLinear(rgb, work["bg"], matte, work["inv"], dst=out)
