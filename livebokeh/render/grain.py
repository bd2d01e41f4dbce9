"""Grain matching: give the blurred background the sensor noise the sharp subject still has.

Blurring removes the camera's noise, so a blurred background next to a noisy in-focus
subject looks pasted in. ``estimate_noise`` measures the noise on the subject (8-bit levels,
standard deviation per colour channel) and ``add_grain`` puts zero-mean Gaussian grain of that
strength back, scaled by how blurred each pixel is.

The grain is monochrome (the same value added to R, G and B): camera JPEG and video noise is
mostly luma, because chroma is subsampled and denoised. ``--grain`` takes ``auto`` (use the
estimate), ``off`` or a number 0..100 that sets the grain directly:
``sigma = N / 100 * MAX_GRAIN_SIGMA`` levels (100 → 10 levels of 255).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from livebokeh.imgops import scratch

MAX_GRAIN_SIGMA = 10.0  # 8-bit levels of grain at --grain 100
SUBJECT_MATTE = 0.9  # matte above which a pixel is sharp subject, where noise is measured
FLAT_FRACTION = 0.3  # noise is measured on this fraction of subject pixels, the flattest
FLATNESS_SIGMA = 2.0  # pixels: pre-blur before the gradient that ranks flatness (hides noise)
MIN_SAMPLES = 200  # fewer flat subject pixels than this: no estimate (0.0)
TILE_MARGIN = 64  # pixels: the noise tile is this much larger than the frame in x and y
MAD_TO_SIGMA = 1.0 / 0.6745  # median absolute deviation of a Gaussian → its std
# Immerkær (1996): this 3x3 kernel cancels linear image structure; on white noise of std s
# its response has std 6 s (sqrt of the sum of squared taps, 36).
NOISE_KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
NOISE_KERNEL_GAIN = 6.0


def _flat_subject(rgb: np.ndarray, matte: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(float32 crop of ``rgb`` around the subject, bool mask of its flattest subject pixels)."""
    subject = (matte > SUBJECT_MATTE).astype(np.uint8)
    subject = cv2.erode(subject, np.ones((5, 5), np.uint8))  # 3x3 kernel stays inside
    x, y, w, h = cv2.boundingRect(subject)
    inside = subject[y:y + h, x:x + w] > 0
    if inside.sum() * FLAT_FRACTION < MIN_SAMPLES:
        return None
    crop = rgb[y:y + h, x:x + w].astype(np.float32)
    smooth = cv2.GaussianBlur(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY), (0, 0), FLATNESS_SIGMA)
    gradient = cv2.magnitude(cv2.Sobel(smooth, cv2.CV_32F, 1, 0),
                             cv2.Sobel(smooth, cv2.CV_32F, 0, 1))
    threshold = np.quantile(gradient[inside], FLAT_FRACTION)
    return crop, inside & (gradient <= threshold)


def estimate_noise(rgb: np.ndarray, matte: np.ndarray) -> float:
    """Sensor noise of the sharp subject: std in 8-bit levels per colour channel.

    ``rgb`` HxWx3 uint8, ``matte`` HxW float32 0..1 (1 = subject). Immerkær's fast noise
    estimate made robust: the Laplacian-like kernel response is taken only on the flattest
    ``FLAT_FRACTION`` of the subject (ranked by the gradient of a pre-blurred copy, so edges
    and texture are left out), and its median absolute value is converted to a std; the
    median over R, G, B is returned. Returns 0.0 when the subject is too small to measure.
    """
    found = _flat_subject(rgb, matte)
    if found is None:
        return 0.0
    crop, flat = found
    sigmas = [np.median(np.abs(cv2.filter2D(crop[..., c], -1, NOISE_KERNEL)[flat]))
              for c in range(3)]
    return float(np.median(sigmas)) * MAD_TO_SIGMA / NOISE_KERNEL_GAIN


def _noise_tile(work: dict[str, np.ndarray], rng: np.random.Generator, h: int, w: int):
    """The standard-normal tile for frames of h x w (drawn once per size, kept in ``work``)."""
    if work.get("grain_tile") is None or work["grain_tile"].shape != (h + TILE_MARGIN,
                                                                      w + TILE_MARGIN):
        work["grain_tile"] = rng.standard_normal((h + TILE_MARGIN, w + TILE_MARGIN), np.float32)
        work.pop("grain_planes", None)
    return work["grain_tile"]


def draw_offset(rng: np.random.Generator) -> tuple[int, int, float]:
    """This frame's (dy, dx, sign): where the tile is read and whether it is negated."""
    dy, dx = rng.integers(0, TILE_MARGIN + 1, 2)
    return int(dy), int(dx), 1.0 if rng.random() < 0.5 else -1.0


def add_grain(out: np.ndarray, blur_amount: np.ndarray, sigma: float, rng: np.random.Generator,
              work: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """Add monochrome Gaussian grain of std ``sigma * blur_amount`` levels to ``out`` in place.

    ``out``: HxWx3 uint8 (RGB), the rendered frame. ``blur_amount``: HxW float32 0..1, how much
    of a pixel's own noise the blur removed (0 sharp, 1 fully blurred; e.g. ``1 - matte``).
    ``sigma``: 8-bit levels (``estimate_noise`` or ``grain_sigma``); 0 leaves ``out``
    untouched.

    No full-size allocation per frame: a standard-normal tile a little larger than the frame
    is made once (kept in ``work``, pass the same dict each frame) and read at a random
    offset and sign each frame. Grain is split into its positive and negative parts so both
    are applied with saturating uint8 add/subtract. The renderers use ``Grain`` instead,
    which adds the grain before the blend (the same result in 2 passes instead of 6).
    """
    if sigma <= 0:
        return out
    work = {} if work is None else work
    h, w = blur_amount.shape
    tile = _noise_tile(work, rng, h, w)
    dy, dx, sign = draw_offset(rng)
    noise = tile[dy:dy + h, dx:dx + w]
    part = scratch(work, "grain_1", (h, w), np.uint8)
    part3 = scratch(work, "grain_3", (h, w, 3), np.uint8)
    for scale, apply in ((sign * sigma, cv2.add), (-sign * sigma, cv2.subtract)):
        cv2.multiply(noise, blur_amount, dst=part, scale=scale, dtype=cv2.CV_8U)  # < 0 → 0
        cv2.cvtColor(part, cv2.COLOR_GRAY2RGB, dst=part3)
        apply(out, part3, dst=out)
    return out


@dataclass
class Grain:
    """One frame's grain at full strength, to be added to a blurred layer before the blend.

    Added to the blurred background and then blended with the sharp frame by ``1 - weight``,
    grain ends up scaled exactly as ``add_grain(out, 1 - weight, ...)`` scales it, but it
    costs two uint8 passes: the tile's positive and negative parts times ``sigma`` are kept
    as 3-channel uint8 planes (made when the size or sigma changes; in video once) and read
    at this frame's offset. The random draws are ``add_grain``'s, in its order.
    """

    sigma: float
    rng: np.random.Generator
    work: dict[str, np.ndarray] = field(default_factory=dict)

    def apply(self, image: np.ndarray) -> np.ndarray:
        """Add the grain to ``image`` (HxWx3 uint8) in place; a no-op when ``sigma`` is 0."""
        if self.sigma <= 0:
            return image
        h, w = image.shape[:2]
        tile = _noise_tile(self.work, self.rng, h, w)
        planes = self.work.get("grain_planes")
        if planes is None or planes[0] != self.sigma:
            planes = self.work["grain_planes"] = (self.sigma,) + tuple(
                cv2.cvtColor(cv2.multiply(tile, sign * self.sigma, dtype=cv2.CV_8U),
                             cv2.COLOR_GRAY2RGB) for sign in (1.0, -1.0))
        dy, dx, sign = draw_offset(self.rng)
        positive, negative = planes[1:] if sign > 0 else planes[:0:-1]
        cv2.add(image, positive[dy:dy + h, dx:dx + w], dst=image)
        return cv2.subtract(image, negative[dy:dy + h, dx:dx + w], dst=image)


def grain_sigma(option: str | float, estimated: float) -> float:
    """Grain std in 8-bit levels for a parsed ``--grain`` option.

    ``auto`` → ``estimated`` (from ``estimate_noise``); ``off`` → 0; N in 0..100 →
    ``N / 100 * MAX_GRAIN_SIGMA``.
    """
    if option == "auto":
        return float(estimated)
    if option == "off":
        return 0.0
    return float(option) / 100.0 * MAX_GRAIN_SIGMA
