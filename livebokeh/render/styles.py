"""Motion and radial (zoom) background blurs: halo-free, at reduced resolution, constant cost.

Both follow the contract of ``render.gaussian_background``: they return a float32 RGB
background at a reduced resolution with the subject taken out, which
``render.composite(rgb, matte, background_low, out, work)`` upsamples and composites.

Halo-free: ``normalized_background`` blurs premultiplied colour ``I * w`` and the background
weight ``w = (1 - matte)^2`` (``render.background_weight``) with the *same* linear operator,
divides, and push-pull fills what the subject covered, so no subject colour is smeared into
the background. Any blur (gaussian, line, zoom) plugs in as a callable.

Constant cost in blur length: the blur runs on a pyramid level at most ``WORK_SIDE`` pixels
long (motion: also coarse enough that the streak is at most about ``LOW_RES_LENGTH`` pixels
there), and the 1-D box blur (``cv2.blur``) costs the same for any length.

- motion: rotate so the motion direction is horizontal, box of the streak length, rotate
  back. ``angle_deg`` 0 = horizontal streaks, 90 = vertical, counter-clockwise as seen on
  screen; ``length_px`` = streak length in full-resolution pixels.
- radial: log-polar warp around the centre (radius on the horizontal axis in log scale), box
  along the log radius, warp back. A box of constant width in ``log r`` is a streak
  proportional to ``r``: the zoom blur of a camera zooming during the exposure. ``amount``
  0..100 sets the streak length at the frame corner farthest from the centre to
  ``amount / 100 * MAX_ZOOM_FRACTION`` of the frame diagonal (100 → 20 %, about 440 px at
  1920x1080); the centre itself stays sharp.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache

import cv2
import numpy as np

from livebokeh.imgops import halve
from livebokeh.render.halo_free import MAX_RADIUS_FRACTION, background_weight, push_pull_fill

WORK_SIDE = 480  # pixels: longest side of the level the streaks are computed on, at most
LOW_RES_LENGTH = 32.0  # pixels: streaks longer than this at the work level go one level down
MAX_ZOOM_FRACTION = 0.20  # radial streak at the farthest corner at amount 100, of the diagonal
MOTION_LENGTH_FACTOR = 2.0  # motion streak at strength s = this * gaussian blur radius
POLAR_MIN_RADIUS = 1.0  # work-level pixels: the log-polar map starts here (log 0 is -inf)
POLAR_WRAP_ROWS = 2  # angle rows copied across the 0/360° seam so interpolation wraps
SHORT_BOX = 13  # pixels: boxes up to this long run as filter2D (see box_rows)

Blur = Callable[[np.ndarray], np.ndarray]


def normalized_background(rgb: np.ndarray, matte: np.ndarray, level: int,
                          blur: Blur) -> np.ndarray:
    """Background of ``rgb`` blurred by ``blur`` with the subject removed, at pyramid ``level``.

    ``rgb`` is HxWx3 uint8, ``matte`` HxW float32 0..1 (1 = subject). ``blur`` is a linear
    operator on a float32 hxwx4 image (premultiplied RGB 0..255, channel 3 = 255 * weight)
    that returns an image of the same size; one call blurs colour and weight identically,
    which is what makes the division exact. Returns float32 RGB (0..255) at ``level``
    resolution.
    """
    small = halve(rgb, level)
    weight = background_weight(halve(matte, level))
    # RGBA (alpha 255) times the weight in all four channels: premultiplied colour and
    # 255 * weight in one OpenCV call (NumPy's broadcast over 4 channels is several times slower).
    rgbw = cv2.multiply(cv2.cvtColor(small, cv2.COLOR_RGB2RGBA), cv2.merge((weight,) * 4),
                        dtype=cv2.CV_32F)
    blurred = blur(rgbw)
    coverage = cv2.extractChannel(blurred, 3)
    coverage *= np.float32(1.0 / 255.0)
    return push_pull_fill(cv2.cvtColor(blurred, cv2.COLOR_RGBA2RGB), coverage)


def work_level(width: int, height: int, streak_px: float = 0.0) -> int:
    """Pyramid level (number of halvings) for a streak of ``streak_px`` full-resolution pixels.

    Coarse enough that the image is at most ``WORK_SIDE`` long and the streak at most about
    ``LOW_RES_LENGTH`` pixels, so the cost does not grow with resolution or streak length.
    """
    by_size = max(0, math.ceil(math.log2(max(width, height) / WORK_SIDE)))
    by_length = max(0, math.ceil(math.log2(max(streak_px, 1e-6) / LOW_RES_LENGTH)))
    return max(by_size, by_length)


def _odd_box(length: float) -> int:
    """Box width in whole pixels, odd so the box is centred on the pixel (at least 1)."""
    return 2 * max(0, round((length - 1) / 2)) + 1


def box_rows(image: np.ndarray, box: int, border: int) -> np.ndarray:
    """Average each pixel with its row neighbours over ``box`` pixels (odd), in place.

    ``cv2.blur`` costs the same for any length but has a slow path for short boxes on
    4-channel float32 (5 px: 1.8 ms against 0.3 ms for ``filter2D`` at 551x474), so short
    boxes, whose ``filter2D`` cost is bounded, take that route.
    """
    if box <= SHORT_BOX:
        kernel = np.full((1, box), 1.0 / box, np.float32)
        return cv2.filter2D(image, -1, kernel, dst=image, borderType=border)
    return cv2.blur(image, (box, 1), dst=image, borderType=border)


def motion_length(strength: float, width: int, height: int) -> float:
    """Motion streak length in full-resolution pixels for ``strength`` 0..100.

    Twice the gaussian style's blur radius (``render.blur_radius``), i.e. the same extent as
    a disc of that radius: 100 → 8 % of the diagonal, about 176 px at 1920x1080.
    """
    return MOTION_LENGTH_FACTOR * strength / 100.0 * MAX_RADIUS_FRACTION * math.hypot(width,
                                                                                       height)


def line_blur(angle_deg: float, length: float) -> Blur:
    """Box blur of ``length`` pixels along direction ``angle_deg`` (counter-clockwise on screen).

    Rotates the image onto a canvas large enough to hold it whole (outside = 0, i.e. zero
    weight), blurs each row with a 1-D box, and rotates back: cost independent of length.
    """
    box = _odd_box(length)
    angle = math.radians(angle_deg)
    cos, sin = abs(math.cos(angle)), abs(math.sin(angle))

    def blur(image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        canvas = (math.ceil(w * cos + h * sin), math.ceil(w * sin + h * cos))
        # Negative angle: turn the image clockwise so the motion direction becomes horizontal.
        matrix = cv2.getRotationMatrix2D((w / 2, h / 2), -angle_deg, 1.0)
        matrix[:, 2] += ((canvas[0] - w) / 2, (canvas[1] - h) / 2)
        rotated = cv2.warpAffine(image, matrix, canvas, flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        box_rows(rotated, box, cv2.BORDER_CONSTANT)
        return cv2.warpAffine(rotated, matrix, (w, h),
                              flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)

    return blur


def motion_background(rgb: np.ndarray, matte: np.ndarray, angle_deg: float,
                      length_px: float) -> np.ndarray:
    """Halo-free linear motion blur of the background, at reduced resolution (float32 RGB).

    ``angle_deg``: streak direction, 0 = horizontal, counter-clockwise on screen.
    ``length_px``: streak length in full-resolution pixels. Feed the result to
    ``render.composite``.
    """
    h, w = rgb.shape[:2]
    level = work_level(w, h, length_px)
    return normalized_background(rgb, matte, level, line_blur(angle_deg, length_px / (1 << level)))


def zoom_streak(amount: float, width: int, height: int) -> float:
    """Radial streak length (full-resolution pixels) at the farthest corner for ``amount``."""
    return amount / 100.0 * MAX_ZOOM_FRACTION * math.hypot(width, height)


@lru_cache(maxsize=8)
def _log_polar_maps(width: int, height: int, centre: tuple[float, float]):
    """Fixed-point remap tables (cached) between an image and its log-polar form.

    Polar image: column u is the radius ``r = POLAR_MIN_RADIUS * exp(u * step)`` up to the
    farthest corner, row v the angle; ``POLAR_WRAP_ROWS`` extra rows at each end repeat the
    other end so the inverse map interpolates across the 0/360° seam. Returns
    (forward maps, inverse maps, log-radius step per column, radius of the farthest corner).
    """
    cx, cy = centre
    max_radius = max(math.hypot(x - cx, y - cy) for x in (0, width) for y in (0, height))
    columns = max(2, math.ceil(max_radius))
    rows = max(8, math.ceil(math.pi * max_radius))
    step = math.log(max(max_radius, 2 * POLAR_MIN_RADIUS) / POLAR_MIN_RADIUS) / (columns - 1)
    radius = POLAR_MIN_RADIUS * np.exp(np.arange(columns, dtype=np.float32) * np.float32(step))
    theta = (np.arange(-POLAR_WRAP_ROWS, rows + POLAR_WRAP_ROWS, dtype=np.float32)
             * np.float32(2 * math.pi / rows))
    forward = cv2.convertMaps(cx + np.cos(theta)[:, None] * radius[None, :],
                              cy + np.sin(theta)[:, None] * radius[None, :], cv2.CV_16SC2)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    dx, dy = xs - np.float32(cx), ys - np.float32(cy)
    r = np.maximum(np.hypot(dx, dy), np.float32(POLAR_MIN_RADIUS))
    u = np.log(r / np.float32(POLAR_MIN_RADIUS)) / np.float32(step)
    v = np.mod(np.arctan2(dy, dx), np.float32(2 * math.pi)) * np.float32(rows / (2 * math.pi))
    inverse = cv2.convertMaps(u, v + np.float32(POLAR_WRAP_ROWS), cv2.CV_16SC2)
    return forward, inverse, step, max_radius


def zoom_blur(centre: tuple[float, float], streak: float) -> Blur:
    """Zoom blur around ``centre`` (pixels) with a ``streak``-pixel streak at the far corner.

    Log-polar warp, 1-D box along the log radius, inverse warp: a box of width ``d`` in log
    radius spans ``r * (exp(d/2) - exp(-d/2))`` pixels at radius ``r``, so the streak grows
    linearly from nothing at the centre; the cost does not depend on ``streak``.
    """

    def blur(image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        forward, inverse, step, max_radius = _log_polar_maps(w, h, centre)
        log_width = 2 * math.asinh(streak / (2 * max_radius))  # streak at the far corner
        polar = cv2.remap(image, *forward, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=0)
        box_rows(polar, _odd_box(log_width / step), cv2.BORDER_REPLICATE)
        return cv2.remap(polar, *inverse, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    return blur


def radial_background(rgb: np.ndarray, matte: np.ndarray, center_xy: tuple[float, float],
                      amount: float) -> np.ndarray:
    """Halo-free zoom blur of the background, at reduced resolution (float32 RGB).

    ``center_xy``: zoom centre as fractions of width and height (0..1, (0.5, 0.5) = middle).
    ``amount``: 0..100, see ``zoom_streak``. Feed the result to ``render.composite``.
    """
    h, w = rgb.shape[:2]
    streak = zoom_streak(amount, w, h)
    level = work_level(w, h)  # streaks shrink to nothing at the centre: keep its detail
    low_w, low_h = max(1, w >> level), max(1, h >> level)
    # Pixel centres sit on integer coordinates: the frame spans -0.5 .. size - 0.5.
    centre = (round(center_xy[0] * low_w - 0.5, 2), round(center_xy[1] * low_h - 0.5, 2))
    return normalized_background(rgb, matte, level, zoom_blur(centre, streak / (1 << level)))
