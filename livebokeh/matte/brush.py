"""Restore and erase brushes: strokes painted into a refine mask at any resolution.

A stroke is kept as geometry, not pixels: points as fractions of the image's width and
height, the radius as a fraction of its long side. So the photo editor paints the same
strokes into a screen-sized preview mask as it moves, and into the full-size ``--mask``
PNG on export (``refine_mask``), and undo is dropping the last stroke.

The mask is the ``--mask`` format that ``matte.refine.apply_refine_mask`` reads: 255 keeps
sharp (restore), 0 blurs (erase), ``AUTO`` (128) leaves the automatic matte. Each stroke
moves the mask towards its target by its coverage, so a later stroke paints over an earlier
one and a soft edge gives a feathered mask.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from livebokeh.errors import LivebokehError

RESTORE, ERASE = "restore", "erase"
TARGETS = {RESTORE: 255.0, ERASE: 0.0}
AUTO = 128  # refine-mask value that leaves the automatic matte as it is
MAX_POINTS = 20000  # per stroke: a long drag at 60 events/s is a few hundred
SHIFT = 4  # cv2 sub-pixel bits: points are drawn to 1/16 pixel
FEATHER_SIGMAS = 3.0  # a soft edge reaches this many Gaussian sigmas past the radius
MAX_SOFT_SIGMA = 4.0  # pixels: wider feathers are blurred on a halved layer (see _coverage)
# cv2's anti-aliased shapes come out larger than asked. Measured as integrated coverage over
# sub-pixel positions, 4..100 px: a filled circle by 0.59 px of radius, a thick line of even
# thickness by 0.77 px of half-width (odd thicknesses by 1.27: only even ones are drawn).
# The shapes are drawn that much smaller, to within half a pixel.
DOT_BLEED, LINE_BLEED = 0.6, 0.77


@dataclass(frozen=True)
class Stroke:
    """One brush stroke. ``mode``: restore or erase; ``points``: (x, y) fractions 0..1 of the
    image's width and height; ``radius``: fraction of the image's long side (0..0.5);
    ``softness`` 0..1: 0 a hard edge, 1 a feather as wide as the radius.
    """

    mode: str
    points: tuple[tuple[float, float], ...]
    radius: float
    softness: float = 0.5

    @classmethod
    def parse(cls, data: dict) -> Stroke:
        """A stroke from JSON-like data; LivebokehError with one line if anything is off."""
        try:
            mode = str(data["mode"])
            points = tuple((float(x), float(y)) for x, y in data["points"])
            radius, softness = float(data["radius"]), float(data.get("softness", 0.5))
        except (KeyError, TypeError, ValueError) as exc:
            raise LivebokehError(f"a stroke needs mode, points [[x, y], ...] and radius "
                                 f"({type(exc).__name__}: {exc})") from None
        if mode not in TARGETS:
            raise LivebokehError(f"stroke mode must be restore or erase, got '{mode}'")
        if not 1 <= len(points) <= MAX_POINTS:
            raise LivebokehError(f"a stroke has 1..{MAX_POINTS} points, got {len(points)}")
        if not all(-1 <= v <= 2 for point in points for v in point):  # a drag may leave it
            raise LivebokehError("stroke points are fractions of the image (0..1)")
        if not 0 < radius <= 0.5 or not 0 <= softness <= 1:
            raise LivebokehError("stroke radius must be in (0, 0.5] and softness in 0..1")
        return cls(mode, points, radius, softness)

    def as_dict(self) -> dict:
        return {"mode": self.mode, "points": [list(p) for p in self.points],
                "radius": self.radius, "softness": self.softness}


def _hard_radius_and_sigma(stroke: Stroke, long_side: int) -> tuple[float, float]:
    """Pixels: the hard core's radius and the feather's Gaussian sigma at this resolution.

    The feather is centred on the radius: the mask reaches half the stroke's effect there.
    """
    radius = stroke.radius * long_side
    return max(0.5, radius), stroke.softness * radius / (2 * FEATHER_SIGMAS)


def _coverage(stroke: Stroke, centres: np.ndarray, size: tuple[int, int],
              long_side: int) -> np.ndarray:
    """The stroke's coverage (float32 0..1) on a window of ``size`` (w, h) pixels.

    ``centres``: the stroke's points in the window's pixel coordinates (N x 2, pixel centres
    on integers). A feather wider than ``MAX_SOFT_SIGMA`` pixels is drawn and blurred on the
    window halved as often as keeps its sigma under that, then scaled back up: it is smooth
    anyway, and so a soft stroke on a 12-megapixel photo costs little more than a hard one.
    """
    radius, sigma = _hard_radius_and_sigma(stroke, long_side)
    halvings = max(0, math.floor(math.log2(sigma / MAX_SOFT_SIGMA))) if sigma > 0 else 0
    factor = 1 << halvings
    width, height = size
    small = (max(1, -(-width // factor)), max(1, -(-height // factor)))
    layer = np.zeros(small[::-1], np.uint8)
    # pixel centre X at full size sits at (X + 0.5) / factor - 0.5 on the reduced layer
    reduced = (centres + 0.5) / factor - 0.5
    points = np.round(reduced * (1 << SHIFT)).astype(np.int32)
    radius /= factor
    if len(points) == 1:
        cv2.circle(layer, tuple(int(v) for v in points[0]),
                   round(max(0.5, radius - DOT_BLEED) * (1 << SHIFT)), 255, -1, cv2.LINE_AA,
                   SHIFT)
    else:  # thick polylines have round caps and joins: the swept disc of the brush
        cv2.polylines(layer, [points.reshape(-1, 1, 2)], False, 255,
                      max(2, 2 * round(radius - LINE_BLEED)), cv2.LINE_AA, SHIFT)
    coverage = layer.astype(np.float32) * np.float32(1.0 / 255.0)
    if sigma / factor >= 0.3:
        coverage = cv2.GaussianBlur(coverage, (0, 0), sigma / factor)
    if factor > 1:
        coverage = cv2.resize(coverage, (small[0] * factor, small[1] * factor),
                              interpolation=cv2.INTER_LINEAR)[:height, :width]
    return coverage


def paint(mask: np.ndarray, stroke: Stroke) -> np.ndarray:
    """Paint ``stroke`` into ``mask`` (float32 HxW, 0..255 refine-mask values) in place.

    Only the stroke's bounding box is touched: the cost follows the stroke, not the image.
    """
    height, width = mask.shape
    long_side = max(width, height)
    radius, sigma = _hard_radius_and_sigma(stroke, long_side)
    reach = radius + FEATHER_SIGMAS * sigma + 2
    # fractions → pixel coordinates with pixel centres on integers (the image: -0.5 .. w - 0.5)
    centres = np.array(stroke.points, np.float64) * (width, height) - 0.5
    x0, y0 = (max(0, math.floor(v - reach)) for v in centres.min(axis=0))
    x1 = min(width, math.ceil(centres[:, 0].max() + reach) + 1)
    y1 = min(height, math.ceil(centres[:, 1].max() + reach) + 1)
    if x1 <= x0 or y1 <= y0:
        return mask  # entirely outside the image
    alpha = _coverage(stroke, centres - (x0, y0), (x1 - x0, y1 - y0), long_side)
    window = mask[y0:y1, x0:x1]
    window += (np.float32(TARGETS[stroke.mode]) - window) * alpha
    return mask


def blank_mask(width: int, height: int) -> np.ndarray:
    """A float32 paint layer with nothing painted (``AUTO`` everywhere)."""
    return np.full((height, width), float(AUTO), np.float32)


def to_refine_mask(mask: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """The paint layer as the uint8 ``--mask`` image (rounded)."""
    return cv2.convertScaleAbs(mask, out)


def refine_mask(strokes, width: int, height: int) -> np.ndarray:
    """The uint8 refine mask (``--mask`` format) of ``strokes`` at ``width`` x ``height``."""
    mask = blank_mask(width, height)
    for stroke in strokes:
        paint(mask, stroke)
    return to_refine_mask(mask)
