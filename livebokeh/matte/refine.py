"""From the person confidence over a region to a frame-size matte that follows the image's edges.

Pure steps on float32 arrays with 0..1 values (1 = subject, kept sharp):

* calibration: the model's confidence is mapped to a matte by a pivot (the confidence that
  becomes matte 0.5) and a gain, per model and per use, fitted on real data with truth
  (``VIDEO``: the DAVIS person clips; ``PHOTO``: people-masks; each checked on both halves);
* ``MatteRefiner``: a colour guided filter (He et al.) on the region's model grid snaps the
  confidence onto the image's edges; a grey guided filter then carries that matte up to
  frame size along the full-resolution luma (a few single-channel passes);
* ``apply_refine_mask``: the user's restore/erase brushes (white keep, black blur, grey auto).

Temporal smoothing (video) happens before refinement, in ``matte.temporal``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from livebokeh.perception.regions import Box, crop
from livebokeh.perception.subject import PersonMask

UPSAMPLE_RADIUS = 1  # grid pixels: window of the grey filter that carries the matte up
UPSAMPLE_EPS = 1e-4  # its regulariser: small, so the luma edge decides where the edge goes
UPSAMPLE_BAND = 256  # frame rows per band of the upsampling. Against one pass over the whole
# reach (the bench's portrait, same run): 720p 2.16 → 1.64 ms, 1080p 4.27 → 2.11; bands of
# 160 / 192 / 384 rows: 1.85 / 1.72 / 1.62 and 2.39 / 2.29 / 2.15 ms


@dataclass(frozen=True)
class RefineProfile:
    """How a matte is refined for one use.

    ``guide_side``: long side (px) of the grid the colour filter runs on (None: the model's
    own grid and the image it saw). ``radius_fraction``: filter window radius as a share of
    that side. ``eps``: its regulariser (intensities 0..1; smaller follows weaker edges).
    ``calibration``: model registry name → (pivot, gain), matte = gain * (q - pivot) + 0.5.
    ``subsample``: the filter's coefficients are computed on a grid this many times
    coarser and applied at the full grid (He and Sun's fast guided filter; 1: exact).
    """

    guide_side: int | None
    radius_fraction: float
    eps: float
    calibration: dict[str, tuple[float, float]]
    subsample: int = 1


# Video: the crop's own 256 px grid. Window radius 3 % of it and eps 3e-5, fitted on DAVIS
# half A (lucia, dance-jump, swing; main) with the flow below, checked on half B (hike,
# rollerblade): against 1 % and 1e-3, half A IoU / boundary F / dtSSD 0.826 / 0.590 / 10.26
# → 0.833 / 0.617 / 9.99, half B 0.856 / 0.716 / 7.33 → 0.865 / 0.740 / 7.07, the still
# clip's flips 0.017 → 0.010 %; eps 1e-6 let hike's dtSSD jump (5.0 → 6.3), 1e-5 began to.
# Pivot 0.5 fits the DAVIS person clips (pivot 0.4 / 0.6 lost IoU 0.021 / 0.003). Gain 1.25
# makes confidence 0.9 and up fully opaque (the body must not let the background through);
# a sharper gain 2 costs dtSSD +2 %. Coefficients on the 128 px grid: 2.4 → 1.15 ms a
# frame for the same figures (0.839 / 0.642 / 9.06 → 0.838 / 0.641 / 9.08).
VIDEO = RefineProfile(None, 0.03, 3e-5, {"selfie": (0.5, 1.25), "selfie-landscape": (0.5, 1.25)},
                      subsample=2)
# Photos: up to 1024 px of the region. people-masks' truth is generous (hair, loose
# clothes): fitted on the even half, pivot 0.3 gain 2, radius 1.5 %, eps 3e-4 (odd half:
# IoU +0.024, boundary F +0.052 over raw; pivot 0.4 gave +0.018 / +0.034).
PHOTO = RefineProfile(1024, 0.015, 3e-4, {"selfie": (0.3, 2.0), "selfie-landscape": (0.3, 2.0)})


def _box(src: np.ndarray, radius: int) -> np.ndarray:
    return cv2.boxFilter(src, cv2.CV_32F, (2 * radius + 1, 2 * radius + 1))


def grey_guided_coefficients(guide: np.ndarray, src: np.ndarray, radius: int, eps: float):
    """Per-pixel (a, b) of the guided filter ``q = a * guide + b`` (both HxW float32)."""
    mean_i = _box(guide, radius)
    mean_p = _box(src, radius)
    cov_ip = _box(guide * src, radius) - mean_i * mean_p
    var_i = _box(guide * guide, radius) - mean_i * mean_i
    a = cov_ip / (var_i + eps)
    b = mean_p - a * mean_i
    return _box(a, radius), _box(b, radius)


def color_guided_coefficients(guide: np.ndarray, src: np.ndarray, radius: int, eps: float):
    """(a: three HxW planes, b HxW) of the colour guided filter ``q = a . guide + b`` (float32).

    The per-pixel 3x3 covariance systems are solved in closed form (cofactors) on separate,
    contiguous colour planes (2-3x faster than on interleaved HxWx3 arrays).
    """
    r, g, b = (np.ascontiguousarray(guide[..., k]) for k in range(3))
    mr, mg, mb, mp = (_box(plane, radius) for plane in (r, g, b, src))
    cr, cg, cb = (_box(plane * src, radius) - mean * mp for plane, mean in
                  ((r, mr), (g, mg), (b, mb)))
    vrr, vrg, vrb = (_box(r * plane, radius) - mr * mean for plane, mean in
                     ((r, mr), (g, mg), (b, mb)))
    vgg, vgb = (_box(g * plane, radius) - mg * mean for plane, mean in ((g, mg), (b, mb)))
    vbb = _box(b * b, radius) - mb * mb
    vrr += eps
    vgg += eps
    vbb += eps
    i00, i01, i02 = vgg * vbb - vgb * vgb, vgb * vrb - vrg * vbb, vrg * vgb - vgg * vrb
    i11, i12, i22 = vrr * vbb - vrb * vrb, vrg * vrb - vrr * vgb, vrr * vgg - vrg * vrg
    inv_det = np.float32(1.0) / (vrr * i00 + vrg * i01 + vrb * i02)
    ar = (i00 * cr + i01 * cg + i02 * cb) * inv_det
    ag = (i01 * cr + i11 * cg + i12 * cb) * inv_det
    ab = (i02 * cr + i12 * cg + i22 * cb) * inv_det
    offset = mp - ar * mr - ag * mg - ab * mb
    return tuple(_box(plane, radius) for plane in (ar, ag, ab)), _box(offset, radius)


def _resized(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``image`` at ``size`` (w, h): area-averaged down, bilinear up, itself when equal."""
    if image.shape[1::-1] == size:
        return image
    shrink = size[0] < image.shape[1]
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def _calibrated(matte: np.ndarray, pivot: float, gain: float) -> np.ndarray:
    """``gain * (q - pivot) + 0.5`` in place: the model's confidence scale to a matte."""
    matte *= gain
    matte += 0.5 - gain * pivot
    return matte


def _clip01(out: np.ndarray) -> np.ndarray:
    cv2.max(out, 0.0, dst=out)
    cv2.min(out, 1.0, dst=out)
    return out


def _grid_size(region: Box, long_side: int) -> tuple[int, int]:
    scale = long_side / max(region.width, region.height)
    return max(8, round(region.width * scale)), max(8, round(region.height * scale))


def _reach(nonzero: np.ndarray, region: Box, width: int,
           height: int) -> tuple[int, int, int, int]:
    """Whole frame pixels ``(x0, y0, x1, y1)`` the grid matte over ``region`` can reach.

    ``nonzero``: the grid matte > 0 (uint8). Its non-zero pixels, grown by the upsampling's
    two box filters and bilinear step (``2 * UPSAMPLE_RADIUS + 1`` grid pixels), within the
    region and the frame: elsewhere the matte is 0, and the frame-size passes skip it. A box
    takes the model's aspect (square for one person) at 1.15x its people, so much of it can
    be empty (DAVIS hike at 720p: box 31 % of the frame, non-zero matte 10 %).
    """
    x, y, w, h = cv2.boundingRect(nonzero)
    if w == 0:
        return 0, 0, 0, 0
    grow = 2 * UPSAMPLE_RADIUS + 1
    grown = Box(x - grow, y - grow, x + w + grow, y + h + grow)
    x0, y0, x1, y1 = region.grid_box(grown, nonzero.shape[1::-1]).clipped(width, height)
    rx0, ry0, rx1, ry1 = region.clipped(width, height)
    return max(x0, rx0), max(y0, ry0), min(x1, rx1), min(y1, ry1)


def _band_columns(nonzero: np.ndarray, to_grid: np.ndarray, top: int, bottom: int, x0: int,
                  x1: int) -> tuple[int, int]:
    """Frame columns ``[c0, c1)`` within ``[x0, x1)`` where rows ``[top, bottom)`` can get a
    non-zero matte: ``nonzero`` (the grid matte > 0, uint8) grown by the upsampling's reach.

    A frame pixel at grid position ``g`` reads the grid matte from ``floor(g) - 2`` to
    ``floor(g) + 3`` (two box filters of radius 1, then bilinear); outside that it is exactly
    0. ``to_grid``: the frame → grid affine (a scale and an offset per axis).
    """
    grow = 2 * UPSAMPLE_RADIUS + 1
    (sx, _, ox), (_, sy, oy) = to_grid.tolist()
    rows = nonzero[max(0, math.floor(sy * top + oy) - grow):
                   max(0, math.floor(sy * (bottom - 1) + oy) + 2 + grow)]
    columns = np.flatnonzero(rows.any(axis=0))
    if len(columns) == 0:
        return x0, x0
    c0 = math.floor((columns[0] - 1 - grow - ox) / sx)
    c1 = math.ceil((columns[-1] + 1 + grow - ox) / sx) + 1
    return max(x0, c0), min(x1, c1)


class MatteRefiner:
    """Frame-size matte from a ``PersonMask``: colour guided filter, then guided upsampling.

    ``profile``: ``VIDEO`` or ``PHOTO``. Outside the mask's region the matte is 0.
    """

    def __init__(self, profile: RefineProfile = VIDEO):
        self.profile = profile
        self._band: dict[str, np.ndarray] = {}
        self._grid: np.ndarray | None = None  # the last frame's ``_upsampling_grid``

    def _buffers(self, width: int) -> dict[str, np.ndarray]:
        """One band's scratch: the scaled coefficient and the luma (with its blur's margin)."""
        if not self._band or self._band["a"].shape[1] != width:
            self._band = {"a": np.empty((UPSAMPLE_BAND, width), np.float32),
                          "luma8": np.empty((UPSAMPLE_BAND + 2, width), np.uint8)}
        return self._band

    def refine(self, rgb: np.ndarray, person: PersonMask, confidence: np.ndarray | None = None,
               out: np.ndarray | None = None,
               carry: Callable[[np.ndarray], np.ndarray | None] | None = None) -> np.ndarray:
        """Matte (HxW float32 0..1) of an RGB uint8 frame from ``person``.

        ``confidence`` replaces ``person.confidence`` (e.g. after temporal smoothing).
        ``carry`` (video, ``MatteSmoother.carry``: it moves the last frame's grid onto this
        one along the image's motion): given, the grid that the upsampling reads (its
        coefficients and the grid matte, ``_upsampling_grid``) is the last frame's, carried,
        instead of both grid filters run again. Those coefficients are smooth and move with
        the image, and they are applied to this frame's own full-resolution luma, so the edge
        still follows this frame.
        """
        height, width = rgb.shape[:2]
        out = np.empty((height, width), np.float32) if out is None else out
        confidence = person.confidence if confidence is None else confidence
        grid = carry(self._grid) if carry is not None and self._grid is not None else None
        if grid is None:
            guide, confidence = self._guide(rgb, person, confidence)
            grid = self._upsampling_grid(guide, self._edge_snapped(guide, confidence,
                                                                   person.model))
        self._grid = grid
        self._upsample(rgb, grid, person.region, out)
        return out

    def _guide(self, rgb: np.ndarray, person: PersonMask, confidence: np.ndarray):
        """The guide image and the confidence on the same grid over the region."""
        if self.profile.guide_side is None:
            return person.seen, confidence
        size = _grid_size(person.region, self.profile.guide_side)
        size = min(size, (round(person.region.width), round(person.region.height)))
        guide = crop(rgb, person.region, size)
        return guide, cv2.resize(confidence, size, interpolation=cv2.INTER_LINEAR)

    def _edge_snapped(self, guide: np.ndarray, confidence: np.ndarray, model: str):
        """Calibrated matte on the grid, following the guide's colour edges."""
        image = guide.astype(np.float32) * np.float32(1.0 / 255.0)
        step = self.profile.subsample
        radius = max(1, round(self.profile.radius_fraction * max(guide.shape[:2]) / step))
        height, width = image.shape[:2]
        coarse = (max(1, width // step), max(1, height // step))
        (ar, ag, ab), matte = color_guided_coefficients(
            _resized(image, coarse), _resized(confidence, coarse), radius, self.profile.eps)
        matte = _resized(matte, (width, height))
        for k, a in enumerate((ar, ag, ab)):
            matte += _resized(a, (width, height)) * image[..., k]
        return _clip01(_calibrated(matte, *self.profile.calibration[model]))

    @staticmethod
    def _upsampling_grid(guide: np.ndarray, matte: np.ndarray) -> np.ndarray:
        """What the upsampling reads, on the grid (float32 HxWx3): the grey guided filter's
        ``a`` (per 8-bit luma level) and ``b`` along the guide's luma, and the grid matte."""
        luma = cv2.cvtColor(guide, cv2.COLOR_RGB2GRAY).astype(np.float32) * np.float32(1 / 255)
        a, b = grey_guided_coefficients(luma, matte, UPSAMPLE_RADIUS, UPSAMPLE_EPS)
        a *= np.float32(1 / 255)  # applied to 8-bit luma
        return cv2.merge((a, b, matte))

    def _upsample(self, rgb: np.ndarray, grid: np.ndarray, region: Box,
                  out: np.ndarray) -> None:
        """Carry the grid matte to frame size along the full-resolution luma (0 outside).

        ``grid``: ``_upsampling_grid``'s. In bands of ``UPSAMPLE_BAND`` rows, each over the
        columns that its rows of the grid matte can reach (``_band_columns``): a person's box
        is wider than their head and neck, and a band's passes stay in the cache.
        """
        height, width = rgb.shape[:2]
        a, b, matte = cv2.split(grid)
        nonzero = cv2.compare(matte, 0.0, cv2.CMP_GT)
        x0, y0, x1, y1 = _reach(nonzero, region, width, height)
        if x1 <= x0 or y1 <= y0:
            out.fill(0.0)
            return
        out[:y0] = 0.0
        out[y1:] = 0.0
        to_grid = region.to_grid(matte.shape[1::-1])
        for top in range(y0, y1, UPSAMPLE_BAND):
            bottom = min(top + UPSAMPLE_BAND, y1)
            c0, c1 = _band_columns(nonzero, to_grid, top, bottom, x0, x1)
            out[top:bottom, :c0] = 0.0
            out[top:bottom, c1:] = 0.0
            if c1 > c0:
                self._upsample_band(rgb, (a, b), to_grid, (c0, top, c1, bottom),
                                    (x0, y0, x1, y1), out)

    def _upsample_band(self, rgb: np.ndarray, coefficients: tuple[np.ndarray, np.ndarray],
                       to_grid: np.ndarray, band: tuple[int, int, int, int],
                       rect: tuple[int, int, int, int], out: np.ndarray) -> None:
        """``out = a * luma + b`` over ``band`` (frame x0, y0, x1, y1), clipped to 0..1.

        ``a``, ``b`` are on the grid (``to_grid``: frame → grid pixels); the luma is blurred
        3x3 (sensor noise would shimmer the edge) reading one pixel around the band within
        ``rect``, so its values are those of one blur over the whole rectangle.
        """
        c0, top, c1, bottom = band
        x0, y0, x1, y1 = rect
        grid = to_grid.copy()
        grid[:, 2] += grid[:, :2] @ np.array([c0, top], np.float64)  # from the band's corner
        size = (c1 - c0, bottom - top)
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        buffers = self._buffers(rgb.shape[1])
        scaled = buffers["a"][:size[1], :size[0]]
        cv2.warpAffine(coefficients[0], grid, size, dst=scaled, flags=flags,
                       borderMode=cv2.BORDER_REPLICATE)
        target = out[top:bottom, c0:c1]
        cv2.warpAffine(coefficients[1], grid, size, dst=target, flags=flags,
                       borderMode=cv2.BORDER_REPLICATE)
        lo, hi, l0, l1 = max(top - 1, y0), min(bottom + 1, y1), max(c0 - 1, x0), min(c1 + 1, x1)
        luma8 = buffers["luma8"][:hi - lo, :l1 - l0]
        cv2.cvtColor(rgb[lo:hi, l0:l1], cv2.COLOR_RGB2GRAY, dst=luma8)
        cv2.GaussianBlur(luma8, (3, 3), 0, dst=luma8)
        cv2.multiply(scaled, luma8[top - lo:bottom - lo, c0 - l0:c1 - l0], dst=scaled,
                     dtype=cv2.CV_32F)
        cv2.add(target, scaled, dst=target)
        _clip01(target)


def apply_refine_mask(matte: np.ndarray, refine: np.ndarray) -> np.ndarray:
    """Apply a user's brush mask in place: 255 keeps sharp, 0 blurs, ~128 leaves it automatic.

    ``refine`` is HxW uint8 at the matte's size. Values ramp over 60 grey levels on each side
    of the neutral band so a feathered brush stroke gives a feathered result.
    """
    r = refine.astype(np.float32)
    keep = np.clip((r - 170.0) / 60.0, 0.0, 1.0)
    erase = erase_weight(refine)
    matte *= 1.0 - keep - erase
    matte += keep
    return matte


def erase_weight(refine: np.ndarray) -> np.ndarray:
    """How much the brush mask erases each pixel (float32 0..1): 1 at 26 and below, 0 from 86."""
    return np.clip((np.float32(86.0) - refine.astype(np.float32)) / np.float32(60.0), 0.0, 1.0)


def blur_erased(coc: np.ndarray, refine: np.ndarray, radius: float) -> np.ndarray:
    """Lens style: push the CoC (pixels, > 0 far) of erased pixels to ``radius``, in place.

    The lens blurs by depth, so without this an erase stroke over anything at the focal
    distance (a wall right behind the person, a bystander beside them) left it sharp: black
    in the brush mask must blur in every style. Where the weight is partial the CoC is mixed.
    """
    weight = erase_weight(refine)
    coc += (np.float32(radius) - coc) * weight
    return coc
