"""Background modes other than blur: a transparent cut-out, or a new background.

``--background`` takes ``blur`` (the default: blur the real background), ``transparent``
(the subject with an alpha channel = the matte) or a replacement: an image file or a colour
``#RRGGBB``. A replacement image is scaled to cover the frame (centre crop) and blurred with
the current style and strength, so ``--strength 0`` keeps it sharp and the look matches the
blur mode; a colour stays a flat colour.

Edges: a matte edge pixel mixes subject and old background (``I = a*F + (1-a)*B_old``).
Compositing ``I`` itself over a new background would carry ``B_old`` along as a fringe, so
edge pixels take a *decontaminated* subject colour instead: the subject's own colour spread
outwards from solid pixels (matte above ``SOLID_MATTE``; normalised convolution plus
push-pull, at reduced resolution), mixed with the frame by ``matte^16`` so solid subject
keeps its full detail. On a synthetic soft edge this cuts the old background's share of the
edge colour about 9x against the plain ``a*I + (1-a)*B_new``. The transparent mode writes
that colour too, so a cut-out composited anywhere later shows no old-background fringe.
Light wrap lets a little of the new background's light (blurred) bleed into the subject's
rim, as real backlight does.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from livebokeh.imgops import halve, scratch
from livebokeh.io.images import read_image
from livebokeh.render.halo_free import push_pull_fill
from livebokeh.settings import BLUR, REPLACE, TRANSPARENT, BackgroundSpec, parse_background  # noqa: F401

LIGHT_WRAP = 0.6  # default share of the new background's light mixed into the subject rim
EDGE_WORK_WIDTH = 480  # pixels: edge colour and light wrap are computed at about this width
SOLID_MATTE = 0.9  # matte above which a pixel's colour is trusted as pure subject
FILL_SIGMA = 1.5  # work-level pixels: smoothing of the subject colour spread into the edge
WRAP_SIGMA_FRACTION = 0.008  # light wrap reach as a fraction of the frame diagonal


def cover(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale ``image`` (RGB uint8) to cover ``width`` x ``height`` and crop the centre."""
    h, w = image.shape[:2]
    scale = max(width / w, height / h)
    scaled_w, scaled_h = max(width, round(w * scale)), max(height, round(h * scale))
    shrinking = scale < 1.0
    resized = cv2.resize(image, (scaled_w, scaled_h),
                         interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    x0, y0 = (scaled_w - width) // 2, (scaled_h - height) // 2
    return np.ascontiguousarray(resized[y0:y0 + height, x0:x0 + width])


def background_plate(spec: BackgroundSpec, width: int, height: int) -> np.ndarray:
    """The replacement at frame size: RGB uint8 HxWx3 (image covered and cropped, or colour)."""
    if spec.colour is not None:
        return np.full((height, width, 3), spec.colour, np.uint8)
    rgb, _ = read_image(spec.path)
    return cover(rgb, width, height)


def _work_level(width: int) -> int:
    """Pyramid level at which the frame is about ``EDGE_WORK_WIDTH`` pixels wide."""
    return max(0, math.floor(math.log2(max(width, 1) / EDGE_WORK_WIDTH)))


def _upsample(low: np.ndarray, width: int, height: int, dst: np.ndarray | None) -> np.ndarray:
    return cv2.resize(low, (width, height), dst=dst, interpolation=cv2.INTER_LINEAR)


def subject_colour(rgb: np.ndarray, matte: np.ndarray, out: np.ndarray | None = None,
                   work: dict | None = None) -> np.ndarray:
    """Decontaminated subject colour (RGB uint8 HxWx3): ``rgb`` where the matte is solid,
    the subject's own colour spread outwards where it is not (no old-background fringe).

    ``matte`` is float32 HxW 0..1; ``work`` caches frame-size scratch buffers between calls.
    """
    work = {} if work is None else work
    height, width = matte.shape
    level = _work_level(width)
    weight = np.maximum(halve(matte, level) - SOLID_MATTE, 0.0)  # only (nearly) solid subject
    weight *= np.float32(1.0 / (1.0 - SOLID_MATTE))
    weight *= weight
    premult = cv2.GaussianBlur(halve(rgb, level).astype(np.float32) * weight[..., None],
                               (0, 0), FILL_SIGMA)
    spread_low = push_pull_fill(premult, cv2.GaussianBlur(weight, (0, 0), FILL_SIGMA))
    spread = _upsample(cv2.convertScaleAbs(spread_low), width, height,
                       scratch(work, "spread", rgb.shape, np.uint8))
    keep = scratch(work, "keep", matte.shape, np.float32)
    cv2.multiply(matte, matte, dst=keep)
    for _ in range(3):  # matte^16: only solid subject keeps the frame's own pixel
        cv2.multiply(keep, keep, dst=keep)
    lose = scratch(work, "lose", matte.shape, np.float32)
    cv2.subtract(1.0, keep, dst=lose)
    out = np.empty_like(rgb) if out is None else out
    return cv2.blendLinear(rgb, spread, keep, lose, dst=out)


def cutout(rgb: np.ndarray, matte: np.ndarray, out: np.ndarray | None = None,
           work: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Subject for a transparent output: (decontaminated RGB uint8, alpha uint8 = matte*255)."""
    work = {} if work is None else work
    colour = subject_colour(rgb, matte, out, work)
    alpha = cv2.convertScaleAbs(matte, scratch(work, "alpha", matte.shape, np.uint8), 255.0)
    return colour, alpha


def replace_background(rgb: np.ndarray, matte: np.ndarray, background_rgb: np.ndarray,
                       light_wrap: float = LIGHT_WRAP, out: np.ndarray | None = None,
                       work: dict | None = None) -> np.ndarray:
    """Put the subject of ``rgb`` over ``background_rgb`` (both RGB uint8 HxWx3).

    ``matte`` float32 HxW 0..1 (1 = subject). ``light_wrap`` 0..1: how much of the new
    background's blurred light reaches into the subject's rim (0 = none). Where the matte
    is 0 the result is exactly ``background_rgb``. Returns ``out`` (allocated if None).
    """
    work = {} if work is None else work
    height, width = matte.shape
    subject = subject_colour(rgb, matte, scratch(work, "subject", rgb.shape, np.uint8), work)
    if light_wrap > 0:
        _add_light_wrap(subject, matte, background_rgb, light_wrap, work)
    inverse = scratch(work, "inverse", matte.shape, np.float32)
    cv2.subtract(1.0, matte, dst=inverse)
    out = np.empty_like(rgb) if out is None else out
    return cv2.blendLinear(subject, background_rgb, matte, inverse, dst=out)


def _add_light_wrap(subject: np.ndarray, matte: np.ndarray, background_rgb: np.ndarray,
                    amount: float, work: dict) -> None:
    """Mix the blurred new background into the subject's rim, in place.

    The wrap weight is ``amount * matte * blur(1 - matte)``: largest just inside the edge,
    zero deep inside the subject, computed at reduced resolution (it is smooth anyway).
    """
    height, width = matte.shape
    level = _work_level(width)
    sigma = WRAP_SIGMA_FRACTION * math.hypot(width, height) / (1 << level)
    matte_low = halve(matte, level)
    reach = cv2.GaussianBlur(1.0 - matte_low, (0, 0), sigma)
    wrap_low = cv2.multiply(reach, matte_low, scale=float(amount))
    light_low = cv2.GaussianBlur(halve(background_rgb, level), (0, 0), sigma)
    wrap = _upsample(wrap_low, width, height, scratch(work, "wrap", matte.shape, np.float32))
    light = _upsample(light_low, width, height, scratch(work, "light", subject.shape, np.uint8))
    keep = scratch(work, "wrap_keep", matte.shape, np.float32)
    cv2.subtract(1.0, wrap, dst=keep)
    cv2.blendLinear(subject, light, keep, wrap, dst=subject)


class Backdrop:
    """Per-stream state of the background mode: parsed specs and the replacement plate.

    The plate (read, covered to frame size and blurred) is cached until the frame size,
    the background or the blur settings change, so a still background costs one read.
    """

    def __init__(self):
        self.work: dict[str, np.ndarray] = {}
        self._specs: dict[str, BackgroundSpec] = {}
        self._key: tuple | None = None
        self._plate: np.ndarray | None = None

    def spec(self, value: str) -> BackgroundSpec:
        if value not in self._specs:
            self._specs[value] = parse_background(value)
        return self._specs[value]

    def plate(self, spec: BackgroundSpec, width: int, height: int, blur_key: tuple,
              blur) -> np.ndarray:
        """Replacement at frame size (RGB uint8). ``blur(rgb, matte)`` returns a low-res
        float32 blurred image or None (nothing to blur); a flat colour is never blurred.
        """
        key = (spec, width, height, blur_key if spec.path is not None else None)
        if key != self._key:
            plate = background_plate(spec, width, height)
            if spec.path is not None:
                low = blur(plate, np.zeros((height, width), np.float32))
                if low is not None:
                    plate = _upsample(cv2.convertScaleAbs(low), width, height, None)
            self._key, self._plate = key, plate
        return self._plate
