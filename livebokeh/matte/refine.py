"""From the segmenter's low-resolution confidence to a frame-size matte that follows edges.

Three pure steps, each on float32 arrays with 0..1 values (1 = subject, kept sharp):

* ``MatteSmoother`` (``matte.temporal``): temporal smoothing for video at the segmenter's
  resolution.
* ``MatteRefiner``: guided filter (He et al.) guided by the frame itself, which snaps the
  blurry low-resolution mask onto the image's own edges (hair, shoulders) at frame size.
  Photos use the colour guide (a 3x3 local linear model, best edges); video and camera use
  the luma guide with coefficients fitted at reduced resolution (a few ms at 1080p).
* ``apply_refine_mask``: the user's restore/erase brushes (white keep, black blur, grey auto).

MediaPipe's selfie confidence is conservative at the edges: on the people-masks photos the
reference boundary sits where the confidence is about 0.3, not 0.5. The refiner therefore
maps confidence ``CONFIDENCE_PIVOT`` to matte 0.5 (with ``EDGE_GAIN`` contrast), measured
by ``scripts/measure_matte.py`` on both halves of that set.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from livebokeh.imgops import halve, shrink_to

GUIDE_LONG_SIDE = 512  # pixels: luma mode fits its coefficients on the frame halved until
# its long side is at most this (exact 2x2 halvings: a non-integer resize costs ~2 ms at 1080p)
COLOR_GUIDE_LONG_SIDE = 1024  # pixels: colour mode works at most at this resolution
GUIDE_RADIUS_FRACTION = 0.01  # window radius as a fraction of the guide's long side
GUIDE_EPS = {"color": 1e-4, "luma": 3e-3}  # regulariser (intensities 0..1): smaller follows
# weaker edges; video uses a larger one so sensor noise in the guide does not make the
# matte shimmer from frame to frame (noise of 4 levels has a variance of 2.5e-4)
CONFIDENCE_PIVOT = 0.3  # model confidence that becomes matte 0.5
EDGE_GAIN = 2.0  # matte slope around the pivot: confidence 0.05 → 0, 0.55 → 1


def _box(src: np.ndarray, radius: int) -> np.ndarray:
    return cv2.boxFilter(src, cv2.CV_32F, (2 * radius + 1, 2 * radius + 1))


def _radius(shape: tuple[int, ...]) -> int:
    return max(1, round(GUIDE_RADIUS_FRACTION * max(shape[:2])))


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
    """(a HxWx3, b HxW) of the colour guided filter ``q = a . guide + b`` (float32).

    The per-pixel 3x3 covariance systems are solved in closed form (cofactors), vectorised.
    """
    mean_i = _box(guide, radius)
    mean_p = _box(src, radius)
    cov = _box(guide * src[..., None], radius) - mean_i * mean_p[..., None]
    pairs = ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2))
    products = np.stack([guide[..., i] * guide[..., j] for i, j in pairs], axis=-1)
    var = _box(products, radius) - np.stack([mean_i[..., i] * mean_i[..., j] for i, j in pairs],
                                            axis=-1)
    rr, rg, rb, gg, gb, bb = (var[..., k] for k in range(6))
    rr, gg, bb = rr + eps, gg + eps, bb + eps
    inv = np.stack([gg * bb - gb * gb, gb * rb - rg * bb, rg * gb - gg * rb,
                    rr * bb - rb * rb, rg * rb - rr * gb, rr * gg - rg * rg], axis=-1)
    det = rr * inv[..., 0] + rg * inv[..., 1] + rb * inv[..., 2]
    i00, i01, i02, i11, i12, i22 = (inv[..., k] for k in range(6))
    c0, c1, c2 = cov[..., 0], cov[..., 1], cov[..., 2]
    a = np.stack([i00 * c0 + i01 * c1 + i02 * c2, i01 * c0 + i11 * c1 + i12 * c2,
                  i02 * c0 + i12 * c1 + i22 * c2], axis=-1) / det[..., None]
    b = mean_p - (a * mean_i).sum(axis=-1)
    return _box(a, radius), _box(b, radius)


def _apply_pivot(a: np.ndarray, b: np.ndarray, scale: float):
    """Fold ``gain * (q - pivot) + 0.5`` into the linear model (``scale``: guide units)."""
    a *= EDGE_GAIN * scale
    b *= EDGE_GAIN
    b += 0.5 - EDGE_GAIN * CONFIDENCE_PIVOT
    return a, b


def _clip01(out: np.ndarray) -> np.ndarray:
    cv2.max(out, 0.0, dst=out)
    cv2.min(out, 1.0, dst=out)
    return out


class MatteRefiner:
    """Guided upsampling of a low-resolution mask to a frame-size matte.

    ``guide="luma"`` (video): coefficients fitted on the luma halved to ``GUIDE_LONG_SIDE``
    and applied to the frame-size 8-bit luma, a handful of single-channel passes with reused
    buffers (~2 ms at 1080p). The luma is first smoothed by a 3x3 Gaussian: the matte is
    ``a * luma + b``, so sensor noise in the luma went straight into the edge band and made
    it shimmer on still scenes (still-scene flicker with the smoother 0.47x → 0.30x of
    unsmoothed), and on people-masks the video matte also gained (IoU 0.925 → 0.927,
    boundary F 0.678 → 0.680).
    ``guide="color"`` (photos): the colour guided filter at up to ``COLOR_GUIDE_LONG_SIDE``.
    """

    def __init__(self, guide: str = "luma", eps: float | None = None):
        if guide not in ("luma", "color"):
            raise ValueError("guide must be 'luma' or 'color'")
        self.guide = guide
        self.eps = GUIDE_EPS[guide] if eps is None else eps
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
        if out is None:
            out = np.empty((height, width), np.float32)
        if self.guide == "color":
            return self._refine_color(rgb, mask_low, out)
        buf = self._buffers(height, width)
        cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY, dst=buf["luma8"])
        cv2.GaussianBlur(buf["luma8"], (3, 3), 0, dst=buf["luma8"])  # see class docstring
        levels = max(0, math.ceil(math.log2(max(height, width) / GUIDE_LONG_SIDE)))
        guide = halve(buf["luma8"], levels).astype(np.float32) * np.float32(1.0 / 255.0)
        src = cv2.resize(mask_low, guide.shape[1::-1], interpolation=cv2.INTER_LINEAR)
        a, b = grey_guided_coefficients(guide, src, _radius(guide.shape), self.eps)
        a, b = _apply_pivot(a, b, 1.0 / 255.0)  # applied to 8-bit luma below
        cv2.resize(a, (width, height), dst=buf["a"], interpolation=cv2.INTER_LINEAR)
        cv2.resize(b, (width, height), dst=buf["b"], interpolation=cv2.INTER_LINEAR)
        cv2.multiply(buf["a"], buf["luma8"], dst=out, dtype=cv2.CV_32F)
        cv2.add(out, buf["b"], dst=out)
        return _clip01(out)

    def _refine_color(self, rgb: np.ndarray, mask_low: np.ndarray, out: np.ndarray):
        height, width = rgb.shape[:2]
        scale = min(1.0, COLOR_GUIDE_LONG_SIDE / max(height, width))
        gsize = (max(1, round(width * scale)), max(1, round(height * scale)))
        guide = shrink_to(rgb, gsize).astype(np.float32) * np.float32(1.0 / 255.0)
        src = cv2.resize(mask_low, gsize, interpolation=cv2.INTER_LINEAR)
        a, b = color_guided_coefficients(guide, src, _radius(guide.shape), self.eps)
        a, b = _apply_pivot(a, b, 1.0 / 255.0)
        if gsize != (width, height):
            a = cv2.resize(a, (width, height), interpolation=cv2.INTER_LINEAR)
            b = cv2.resize(b, (width, height), interpolation=cv2.INTER_LINEAR)
        np.sum(a * rgb, axis=-1, dtype=np.float32, out=out)
        out += b
        return _clip01(out)


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
