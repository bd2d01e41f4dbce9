"""Lens blur: depth-of-field with a disc or polygonal aperture, halo-free, at constant cost.

Input is an RGB uint8 frame and a signed circle-of-confusion (CoC) map: float32 HxW, the
blur *radius in full-resolution pixels*, positive behind the focal plane (far), negative in
front of it (near), 0 in focus. ``lens_blur`` renders it in three fields:

- the **in-focus field**: pixels with ``|coc|`` below the first slice radius (a linear
  ramp from ``FOCUS_RADIUS``), and the subject given by ``matte``, stay at full
  resolution (they are never blurred);
- the **far field** (coc > 0): a few depth slices, each blurred with the aperture kernel
  and composited with its coverage (farther under nearer), then divided by the field's
  own coverage. The in-focus field is not part of it, so subject colours never leak into
  the blurred background, and the background does not smear over the subject (halo-free);
- the **near field** (coc < 0): slices composited the same way, laid *over* the rest, so
  a blurred foreground spills over what is behind it, as through a real lens.

This is the exact reference's layered scatter (``livebokeh.reference``) with a handful of
layers. Each slice has one radius ``r`` and is blurred on the pyramid level where ``r`` is
at most ``LEVEL_RADIUS`` pixels (a kernel of at most 9x9), so strength 100 costs about
what strength 20 does; blurred content is never finer than the level whose longest side
is ``WORK_SIDE`` (1080p: 480x270, 720p: 320x180). A pixel whose CoC lies between two slice
radii is shared between the two (linear in log radius), so continuous surfaces such as a
receding floor show no seams. Only the final blend runs at full resolution, in uint8.

Colour: blurring happens in linear light. Values near the top of the range are boosted
before blurring (``highlight_boost``) and the boost is inverted after (``tone_map``), so a
small light near 255 spreads into a bright disc instead of a dim smudge, while flat areas
come back unchanged. ``decode`` / ``encode`` do both steps through look-up tables; the
exact reference renderer (``livebokeh.reference``) shares them and ``aperture_kernel``.
"""

from __future__ import annotations

import math
from functools import lru_cache

import cv2
import numpy as np

from livebokeh.errors import LivebokehError
from livebokeh.imgops import halve, scratch
from livebokeh.render.halo_free import blend_runs, edge_tiles, push_pull_fill

HIGHLIGHT_GAIN = 3.0  # default: a fully clipped channel counts as 1 + gain times brighter
MAX_HIGHLIGHT_GAIN = 6.0
HIGHLIGHT_KNEE = 0.8  # linear value where the highlight boost starts (sRGB code ~231)
LINEAR_STEPS = 8192  # encode table entries per unit of (boosted) linear light
BLADE_COUNTS = (0, 5, 6, 7, 8, 9)  # 0 = round aperture
FOCUS_RADIUS = 0.25  # px: |coc| up to this stays sharp; sharp→blurred ramp ends at slice 1
SLICE_RATIO = 2.0  # largest ratio between neighbouring slice radii
LEVEL_RADIUS = 4.0  # px: a slice is blurred on the pyramid level where its radius <= this
WORK_SIDE = 480  # px: blurred content is computed at a level no longer than this (if smaller)
KERNEL_SUPERSAMPLING = 8  # sub-samples per pixel side when rasterising the aperture
MIN_COVERAGE = 1e-4  # below this, coverage counts as empty when dividing
FALLBACK_WEIGHT = 1e-3  # blend weight of the far field where no other colour is defined
REACH_FACTOR = 1.25  # a slice's blur reaches this many radii (polygon corners, resampling)
FILL_LEVELS = 2  # the fallback fill is computed this many halvings down
GAIN_SCALE = 64.0  # uint8 steps per unit of the sharp gain (gains up to ~4 are kept)


# --- colour ---------------------------------------------------------------------------------

def srgb_to_linear(srgb: np.ndarray) -> np.ndarray:
    """sRGB-encoded values 0..1 → linear light 0..1 (IEC 61966-2-1), float32."""
    srgb = np.asarray(srgb, np.float32)
    return np.where(srgb <= 0.04045, srgb / 12.92,
                    ((srgb + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    """Linear light 0..1 → sRGB-encoded 0..1 (values outside 0..1 are clipped), float32."""
    linear = np.clip(np.asarray(linear, np.float32), 0.0, 1.0)
    return np.where(linear <= 0.0031308, linear * 12.92,
                    1.055 * linear ** (1 / 2.4) - 0.055).astype(np.float32)


def highlight_boost(linear: np.ndarray, gain: float) -> np.ndarray:
    """Boost linear values near 1 per channel: ``v * (1 + gain * smoothstep(knee, 1, v))``.

    A channel at or near 255 was probably clipped by the camera; boosting it before the blur
    gives lights the energy to bloom into discs. Monotonic, so ``tone_map`` inverts it.
    """
    linear = np.asarray(linear, np.float32)
    t = np.clip((linear - HIGHLIGHT_KNEE) / (1.0 - HIGHLIGHT_KNEE), 0.0, 1.0)
    return linear * (1.0 + np.float32(gain) * t * t * (3.0 - 2.0 * t))


def tone_map(boosted: np.ndarray, gain: float) -> np.ndarray:
    """Inverse of ``highlight_boost`` (values above the boosted maximum clip to 1), float32."""
    grid = np.linspace(0.0, 1.0, 1 << 16, dtype=np.float32)
    return np.interp(boosted, highlight_boost(grid, gain), grid).astype(np.float32)


@lru_cache(maxsize=8)
def _decode_table(gain: float) -> np.ndarray:
    codes = np.arange(256, dtype=np.float32) / 255.0
    table = highlight_boost(srgb_to_linear(codes), gain)
    table.flags.writeable = False
    return table


@lru_cache(maxsize=8)
def _encode_table(gain: float) -> np.ndarray:
    boosted = np.arange(1 << 16, dtype=np.float32) / LINEAR_STEPS
    codes = np.rint(linear_to_srgb(tone_map(boosted, gain)) * 255.0).astype(np.uint8)
    codes.flags.writeable = False
    return codes


def decode(rgb: np.ndarray, gain: float, dst: np.ndarray | None = None) -> np.ndarray:
    """RGB uint8 → linear light with boosted highlights, float32 (one table look-up)."""
    return cv2.LUT(rgb, _decode_table(float(gain)), dst=dst)


@lru_cache(maxsize=8)
def _decode_table16(gain: float) -> tuple[np.ndarray, float]:
    """``_decode_table`` in uint16 fixed point, and the linear value of one step."""
    table = _decode_table(gain)
    step = float(table[-1]) / 65535.0
    codes = np.rint(table / step).astype(np.uint16)
    codes.flags.writeable = False
    return codes, step


def decode_reduced(rgb: np.ndarray, gain: float, levels: int,
                   work: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """``halve(decode(rgb, gain), levels)`` with the frame-size pass in uint16, float32 out.

    The look-up writes 16-bit fixed point (one step: 1/16384 of linear white at gain 3, a
    tenth of the darkest sRGB code) and the area reduction runs on it, so the only
    frame-size work is one uint8 → uint16 pass and a 2x area step: at 1080p about 2 ms where
    float32 took 4.5 + 6 (shared machine, same run).
    """
    codes, step = _decode_table16(float(gain))
    reduced = halve(cv2.LUT(rgb, codes, dst=scratch(work, "codes", rgb.shape, np.uint16)),
                    levels)  # 2x steps: OpenCV's fast path for 16-bit
    return np.multiply(reduced, np.float32(step), dtype=np.float32)


def lens_source(rgb: np.ndarray, highlight_gain: float = HIGHLIGHT_GAIN,
                work: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """The frame as the blur reads it: boosted linear light at the base level (float32).

    The one frame-size pass of ``lens_blur`` that needs neither the matte nor the CoC (2.8
    of its 17.6 ms at 1080p on one core), so a pipelined caller makes it ahead, on the
    thread that segments the frame, and hands it to ``lens_blur(..., linear=)``. ``work``
    keeps its frame-size look-up buffer between calls (one dict per calling thread).
    """
    height, width = rgb.shape[:2]
    return decode_reduced(rgb, highlight_gain, base_level(width, height), work)


def encode(boosted: np.ndarray, gain: float, out: np.ndarray | None = None) -> np.ndarray:
    """Boosted linear light (float32) → tone-mapped sRGB uint8, the inverse of ``decode``."""
    index = cv2.addWeighted(boosted, float(LINEAR_STEPS), boosted, 0.0, 0.5, dtype=cv2.CV_16U)
    return np.take(_encode_table(float(gain)), index, out=out)


# --- aperture -------------------------------------------------------------------------------

def aperture_circumradius(radius: float, blades: int) -> float:
    """Circumradius (px) of the aperture whose area equals a disc of ``radius`` px.

    Polygons keep the disc's area so the blur has the same strength for every blade count.
    """
    if blades == 0:
        return radius
    return radius * math.sqrt(2.0 * math.pi / (blades * math.sin(2.0 * math.pi / blades)))


@lru_cache(maxsize=512)
def _aperture(radius_64ths: int, blades: int, rotation_tenths: int) -> np.ndarray:
    radius = radius_64ths / 64.0
    extent = aperture_circumradius(radius, blades)
    half = max(0, math.ceil(extent - 0.5))
    if radius < 1.0 / 64.0:
        kernel = np.ones((1, 1), np.float32)
    else:
        n = (2 * half + 1) * KERNEL_SUPERSAMPLING
        axis = ((np.arange(n, dtype=np.float32) + 0.5) / KERNEL_SUPERSAMPLING - half - 0.5)
        x = axis[None, :]
        y_up = -axis[:, None]  # screen "up" is negative image y
        if blades == 0:
            inside = x * x + y_up * y_up <= radius * radius
        else:
            apothem = extent * math.cos(math.pi / blades)
            inside = np.ones((n, n), bool)
            for i in range(blades):  # first vertex points up at rotation 0, turns CCW
                normal = math.pi / 2 + math.radians(rotation_tenths / 10.0) + math.pi * (
                    2 * i + 1) / blades
                inside &= x * math.cos(normal) + y_up * math.sin(normal) <= apothem
        size = 2 * half + 1
        kernel = inside.reshape(size, KERNEL_SUPERSAMPLING, size, KERNEL_SUPERSAMPLING).sum(
            axis=(1, 3), dtype=np.float32)
        kernel /= kernel.sum()
    kernel.flags.writeable = False
    return kernel


def aperture_kernel(radius: float, blades: int = 0, rotation_deg: float = 0.0) -> np.ndarray:
    """The aperture as it appears on screen: float32 (2n+1)² weights summing to 1 (cached).

    ``radius`` in pixels (a polygon has the area of the disc of that radius), ``blades`` 0 for
    a disc or 5..9 for a regular polygon, ``rotation_deg`` turns it counter-clockwise on
    screen (0 = a corner points up). Pixel weights are the shape's area coverage.
    """
    return _aperture(round(radius * 64), blades, round(rotation_deg % 360.0 * 10))


@lru_cache(maxsize=512)
def _scatter(radius_64ths: int, blades: int, rotation_tenths: int) -> np.ndarray:
    kernel = np.ascontiguousarray(_aperture(radius_64ths, blades, rotation_tenths)[::-1, ::-1])
    kernel.flags.writeable = False
    return kernel


def scatter_kernel(radius: float, blades: int = 0, rotation_deg: float = 0.0) -> np.ndarray:
    """``aperture_kernel`` mirrored: ``cv2.filter2D`` with it *scatters* the aperture shape."""
    return _scatter(round(radius * 64), blades, round(rotation_deg % 360.0 * 10))


# --- fast renderer --------------------------------------------------------------------------

def check_inputs(rgb: np.ndarray, coc: np.ndarray, matte: np.ndarray | None, blades: int,
                 highlight_gain: float) -> None:
    """Raise ``LivebokehError`` (one line) for arrays or options the renderers cannot use."""
    if not (isinstance(rgb, np.ndarray) and rgb.dtype == np.uint8 and rgb.ndim == 3
            and rgb.shape[2] == 3):
        raise LivebokehError("lens blur: image must be an RGB uint8 array of shape HxWx3")
    if matte is not None and (not isinstance(matte, np.ndarray) or matte.dtype != np.float32
                              or matte.shape != rgb.shape[:2]):
        raise LivebokehError(f"lens blur: matte must be float32 of shape {rgb.shape[:2]}")
    if not (isinstance(coc, np.ndarray) and coc.dtype == np.float32 and coc.ndim == 2
            and coc.shape[0] <= rgb.shape[0] and coc.shape[1] <= rgb.shape[1]):
        raise LivebokehError(f"lens blur: coc must be float32 of shape {rgb.shape[:2]} "
                             "(or smaller: it is stretched to the frame)")
    if blades not in BLADE_COUNTS:
        raise LivebokehError(f"lens blur: blades must be 0 (round) or 5..9, not {blades}")
    if not 0.0 <= highlight_gain <= MAX_HIGHLIGHT_GAIN:
        raise LivebokehError(f"lens blur: highlight gain must be in 0..{MAX_HIGHLIGHT_GAIN:g}")


def base_level(width: int, height: int) -> int:
    """Pyramid level of the finest blurred content: the longest side at most ``WORK_SIDE``."""
    return max(0, math.ceil(math.log2(max(width, height) / WORK_SIDE)))


def slice_radii(first: float, largest: float) -> list[float]:
    """Slice radii (px): geometric from ``first`` to ``largest``, neighbours at most
    ``SLICE_RATIO`` apart."""
    if largest <= first:
        return [first]
    count = math.ceil(math.log(largest / first) / math.log(SLICE_RATIO) - 1e-6) + 1
    ratio = (largest / first) ** (1.0 / (count - 1))
    return [first * ratio**k for k in range(count)]


def slice_level(radius: float, base: int) -> int:
    """Pyramid level on which a slice of ``radius`` px is blurred (at least ``base``)."""
    return max(base, math.ceil(math.log2(max(radius, 1e-6) / LEVEL_RADIUS)))


def slice_position(radius: np.ndarray, radii: list[float]) -> np.ndarray:
    """Continuous slice index (float32) of each CoC ``radius`` in px, clipped to the slices.

    Radii are geometric, so the index is linear in ``log(radius)``; a pixel at position
    ``k + t`` is shared ``1 - t`` / ``t`` between slices ``k`` and ``k + 1``.
    """
    if len(radii) == 1:
        return np.zeros_like(radius)
    step = math.log(radii[1] / radii[0])
    position = np.log(np.maximum(radius, radii[0]) * np.float32(1.0 / radii[0]))
    position *= np.float32(1.0 / step)
    return np.minimum(position, np.float32(len(radii) - 1), out=position)


def tent_weight(position: np.ndarray, k: int) -> np.ndarray:
    """Share (0..1, float32) of slice ``k`` for pixels at ``slice_position``."""
    weight = cv2.absdiff(position, float(k))
    cv2.subtract(1.0, weight, dst=weight)
    return cv2.max(weight, 0.0, dst=weight)


def focus_weight(coc: np.ndarray, matte: np.ndarray | None, first_radius: float,
                 size: tuple[int, int] | None = None,
                 work: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """In-focus field weight at full resolution, uint8 0..255.

    255 for ``|coc| <= FOCUS_RADIUS``, falling linearly to 0 at ``first_radius`` (px), and at
    least the subject ``matte``: the subject stays sharp even where its CoC says otherwise.
    ``size`` (width, height) is the frame's when ``coc`` is at a lower resolution: the ramp
    is then computed there and upsampled (the CoC is smooth; the matte keeps its edges).
    ``work``: frame-size scratch buffers kept between calls (``lens_blur``'s).
    """
    scale = 128.0 / first_radius  # |coc| in 1/128ths of the first radius, saturating
    steps = np.arange(256, dtype=np.float32) / scale
    ramp = np.clip((first_radius - steps) / (first_radius - FOCUS_RADIUS), 0.0, 1.0)
    weight = cv2.convertScaleAbs(coc, alpha=scale, dst=scratch(work, "coc8", coc.shape, np.uint8))
    cv2.LUT(weight, np.rint(ramp * 255).astype(np.uint8), dst=weight)
    if size is not None and weight.shape[::-1] != tuple(size):
        weight = cv2.resize(weight, size, interpolation=cv2.INTER_LINEAR,
                            dst=scratch(work, "focus", size[::-1], np.uint8))
    if matte is not None:
        matte8 = cv2.convertScaleAbs(matte, alpha=255.0,
                                     dst=scratch(work, "matte8", matte.shape, np.uint8))
        cv2.max(weight, matte8, dst=weight)
    return weight


def _spread(plane: np.ndarray, channels: int) -> np.ndarray:
    """A single-channel float32 image repeated over ``channels`` (for per-pixel weights)."""
    return cv2.merge([plane] * channels)


def _field_pyramid(linear: np.ndarray, membership: np.ndarray, radius: np.ndarray,
                   levels: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Premultiplied field images per level: (R, G, B, coverage) and radius·coverage.

    Zero-padded (zero coverage) so the sides halve exactly ``levels`` times, which keeps
    every upsampling an exact factor of two.
    """
    h, w = membership.shape
    step = 1 << levels
    pad = (0, -(-h // step) * step - h, 0, -(-w // step) * step - w)
    colour = cv2.merge([cv2.multiply(linear, _spread(membership, 3)), membership])
    pyramid = [(cv2.copyMakeBorder(colour, *pad, cv2.BORDER_CONSTANT, value=0),
                cv2.copyMakeBorder(cv2.multiply(radius, membership), *pad, cv2.BORDER_CONSTANT,
                                   value=0))]
    for _ in range(levels):
        pyramid.append(tuple(halve(image, 1) for image in pyramid[-1]))
    return pyramid


def _stack(accumulated: np.ndarray, blurred: np.ndarray, nearer_first: bool) -> np.ndarray:
    """Composite a blurred slice (premultiplied RGB + coverage) over or under the rest."""
    front, back = (accumulated, blurred) if nearer_first else (blurred, accumulated)
    clear = cv2.subtract(1.0, cv2.extractChannel(front, 3))  # a slice's coverage is <= 1
    cv2.multiply(back, _spread(clear, 4), dst=back)
    return cv2.add(back, front, dst=back)


def _add_slice(accumulated: np.ndarray, colour: np.ndarray, share: np.ndarray,
               covered: np.ndarray, kernel: np.ndarray, nearer_first: bool) -> None:
    """Blur a slice with ``kernel`` and stack it onto ``accumulated`` (hxwx4).

    The slice is ``colour`` (premultiplied RGB + coverage, hxwx4) times its ``share`` (hxw),
    made and blurred only over its reach: the bounding box of the pixels it has (share > 0
    where ``covered``, uint8) grown by the kernel's radius. Outside it the blurred slice is
    zero, which leaves ``accumulated`` as it is, so the result is the whole level's blur and
    stack (to float rounding: 1e-8 of the value on a few pixels; the bench's rendered
    frames are identical). A slice holds one band of depths, and its box is a fraction of
    the level: on the bench's 1080p frames 37-77 %, some slices empty. The two fields there
    took 4.3 / 5.2 / 7.3 ms at strengths 15 / 30 / 80 over the whole level, now 3.7 / 4.6
    / 5.2 (same run, alternating).
    """
    has = cv2.bitwise_and(cv2.compare(share, 0.0, cv2.CMP_GT), covered)
    reach = _reach(has, kernel.shape[0] // 2)
    if reach is None:
        return
    weighted = cv2.multiply(colour[reach], _spread(share[reach], 4))
    blurred = cv2.filter2D(weighted, -1, kernel, borderType=cv2.BORDER_CONSTANT)
    if nearer_first:
        accumulated[reach] = _stack(accumulated[reach], blurred, nearer_first)
    else:
        _stack(accumulated[reach], blurred, nearer_first)  # in place, into the view


def render_field(linear: np.ndarray, membership: np.ndarray, radius: np.ndarray,
                 radii: list[float], base: int, blades: int, rotation_deg: float,
                 nearer_first: bool) -> np.ndarray:
    """Blur one field (far or near) slice by slice; returns premultiplied RGB + coverage.

    ``linear`` (float32 hxwx3), ``membership`` (float32 hxw, the pixel's share in this field)
    and ``radius`` (float32 hxw, |CoC| in full-resolution px) are at pyramid level ``base``.
    Coverage and radius are carried premultiplied down the pyramid, so coarse levels only
    average pixels of this field. The result (float32 hxwx4) is at level ``base``.

    Slices are visited from the largest radius down (coarse levels first) and composited
    with coverage like the reference's layers: in the far field the largest radius is the
    farthest, so each next slice goes *over*; in the near field (``nearer_first``) it is the
    nearest, so each next slice goes *under*.
    """
    levels = [slice_level(r, base) for r in radii]
    top = max(levels)
    region = _reach(membership, radii[-1] / (1 << base) * REACH_FACTOR + (1 << (top - base)))
    if region is None:
        return np.zeros(membership.shape + (4,), np.float32)
    pyramid = _field_pyramid(linear[region], membership[region], radius[region], top - base)
    accumulated = None
    for level in range(top, base - 1, -1):
        colour, radius_sum = pyramid[level - base]
        if accumulated is not None:
            accumulated = cv2.resize(accumulated, colour.shape[1::-1],
                                     interpolation=cv2.INTER_LINEAR)
        slices = [k for k in range(len(radii) - 1, -1, -1) if levels[k] == level]
        if not slices:
            continue
        coverage = cv2.extractChannel(colour, 3)
        covered = cv2.compare(coverage, 0.0, cv2.CMP_GT)
        position = slice_position(cv2.divide(radius_sum, cv2.max(coverage, MIN_COVERAGE)),
                                  radii)
        for k in slices:  # largest radius first
            share = tent_weight(position, k)
            kernel = scatter_kernel(radii[k] / (1 << level), blades, rotation_deg)
            if accumulated is None:  # the first slice: the whole level
                accumulated = cv2.filter2D(cv2.multiply(colour, _spread(share, 4)), -1, kernel,
                                           borderType=cv2.BORDER_CONSTANT)
            else:
                _add_slice(accumulated, colour, share, covered, kernel, nearer_first)
    field = np.zeros(membership.shape + (4,), np.float32)
    field[region] = accumulated[:field[region].shape[0], :field[region].shape[1]]
    return field


def _reach(membership: np.ndarray, margin: float) -> tuple[slice, slice] | None:
    """Rows and columns a field reaches: its pixels' bounding box grown by ``margin`` px."""
    x, y, width, height = cv2.boundingRect(cv2.compare(membership, 0.0, cv2.CMP_GT))
    if width == 0:
        return None
    h, w = membership.shape
    grow = math.ceil(margin)
    return (slice(max(0, y - grow), min(h, y + height + grow)),
            slice(max(0, x - grow), min(w, x + width + grow)))


def _blurred_layer(linear: np.ndarray, coc: np.ndarray, focus: np.ndarray, first: float,
                   base: int, blades: int, rotation_deg: float):
    """Far and near fields at level ``base``: (blurred layer hxwx3, sharp gain hxw).

    Layered like the exact reference: far field (premultiplied ``P_F``, coverage ``A_F``),
    the sharp in-focus field ``m`` over it, the near field (``P_N``, ``A_N``) over both, all
    divided by the accumulated coverage. Written as ``out = w * sharp + (1 - w) * layer``
    with ``layer = (P_N + (1 - A_N) P_F) / (A_N + (1 - A_N) A_F)`` and
    ``w = m * gain``, ``gain = (1 - A_N) / (A_N + (1 - A_N) (m + (1 - m) A_F))``, so the
    caller can apply ``gain`` to the full-resolution focus weight and keep sharp edges.
    Where nothing covers a pixel (behind the subject) the layer takes the far field
    filled in from around it (push-pull), so upsampling never pulls in undefined colour.
    """
    rest = 1.0 - focus
    far_share = cv2.multiply(rest, cv2.threshold(coc, 0.0, 1.0, cv2.THRESH_BINARY)[1])
    radius = np.abs(coc)
    lowest, highest = cv2.minMaxLoc(coc)[:2]
    if highest > FOCUS_RADIUS:
        field = render_field(linear, far_share, radius, slice_radii(first, highest), base,
                             blades, rotation_deg, nearer_first=False)
        premult, coverage = _split(field)
        filled = _fill(premult, coverage)
    else:
        premult, coverage = np.zeros_like(linear), np.zeros_like(focus)
        filled = linear
    behind = coverage + focus * (1.0 - coverage)  # coverage of the sharp field over the far
    if -lowest > FOCUS_RADIUS:
        field = render_field(linear, rest - far_share, radius, slice_radii(first, -lowest),
                             base, blades, rotation_deg, nearer_first=True)
        near, near_coverage = _split(field)
        clear = 1.0 - near_coverage
        gain = clear / np.maximum(near_coverage + clear * behind, MIN_COVERAGE)
        premult = cv2.add(near, cv2.multiply(premult, _spread(clear, 3)))
        coverage = near_coverage + clear * coverage
    else:
        gain = 1.0 / np.maximum(behind, MIN_COVERAGE)
    numerator = cv2.scaleAdd(filled, FALLBACK_WEIGHT, premult)
    return cv2.divide(numerator, _spread(coverage + FALLBACK_WEIGHT, 3)), gain


def _split(field: np.ndarray):
    """Premultiplied RGB (hxwx3) and coverage capped at 1 (hxw) of a field image."""
    return cv2.cvtColor(field, cv2.COLOR_RGBA2RGB), np.minimum(field[..., 3], 1.0)


def _fill(premult: np.ndarray, coverage: np.ndarray) -> np.ndarray:
    """Straight colour everywhere, also where nothing covers (push-pull at quarter size).

    Only a fallback for the pixels behind the sharp subject, so a coarse fill is enough.
    """
    h, w = coverage.shape
    filled = push_pull_fill(halve(premult, FILL_LEVELS), halve(coverage, FILL_LEVELS))
    return cv2.resize(filled, (w, h), interpolation=cv2.INTER_LINEAR)


def _blend(sharp: np.ndarray, blurred: np.ndarray, weight: np.ndarray, out: np.ndarray,
           work: dict[str, np.ndarray]) -> np.ndarray:
    """``out = (sharp * weight + blurred * (255 - weight)) / 255`` in uint8 (weight HxW)."""
    weight3 = cv2.cvtColor(weight, cv2.COLOR_GRAY2RGB, dst=work.get("weight3"))
    work["weight3"] = weight3
    work["sharp_part"] = cv2.multiply(sharp, weight3, dst=work.get("sharp_part"),
                                      scale=1.0 / 255.0)
    cv2.subtract(255, weight3, dst=weight3)
    cv2.multiply(blurred, weight3, dst=out, scale=1.0 / 255.0)
    return cv2.add(out, work["sharp_part"], dst=out)


def _blend_over(sharp: np.ndarray, weight: np.ndarray, out: np.ndarray,
                work: dict[str, np.ndarray]) -> np.ndarray:
    """``_blend`` with the blurred layer already in ``out``, only on the edge tiles.

    Weight 255 copies the sharp pixel, weight 0 keeps the blurred one (what ``_blend``
    gives there exactly), and the blend itself runs only on the tiles that hold other
    weights (``_blend_linear``): within one level of the full-frame ``_blend``, which at
    1080p is five 3-channel passes.
    """
    solid = cv2.compare(weight, 255, cv2.CMP_EQ, dst=scratch(work, "solid", weight.shape, np.uint8))
    cv2.copyTo(sharp, solid, out)
    blend_runs(sharp, out, weight, edge_tiles(weight, solid, work), _blend_linear)
    return out


def _blend_linear(sharp: np.ndarray, blurred: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``_blend`` of the edge runs through ``cv2.blendLinear``: one rounding instead of two
    (so within one level), 0.22 against 0.71 ms for 128,000 pixels."""
    share = cv2.multiply(weight, 1.0 / 255.0, dtype=cv2.CV_32F)
    return cv2.blendLinear(sharp, blurred, share, cv2.subtract(1.0, share))


def lens_blur(rgb: np.ndarray, coc: np.ndarray, matte: np.ndarray | None = None,
              blades: int = 0, rotation_deg: float = 0.0,
              highlight_gain: float = HIGHLIGHT_GAIN, out: np.ndarray | None = None,
              work: dict[str, np.ndarray] | None = None, grain=None,
              linear: np.ndarray | None = None) -> np.ndarray:
    """Render depth of field for RGB uint8 ``rgb`` (HxWx3); returns RGB uint8 (``out``).

    ``coc``: float32 signed blur radius in full-resolution pixels (> 0 far, < 0 near), at
    frame size or at a lower resolution (a depth model's map, stretched to the frame like a
    bilinear resize: it is then used at the blur's own resolution and never upsampled to
    the frame size).
    ``matte``: optional float32 HxW 0..1, 1 = subject that must stay sharp.
    ``blades``: 0 round aperture, 5..9 polygon; ``rotation_deg`` turns it counter-clockwise.
    ``highlight_gain``: 0..6, how much brighter than 255 clipped highlights are taken to be.
    ``work``: pass the same dict every frame to reuse the frame-size scratch buffers.
    ``grain``: a ``grain.Grain`` added to the blurred layer before the blend (so scaled by
    how much of the blurred layer each pixel shows).
    ``linear``: this frame's ``lens_source(rgb, highlight_gain)`` when made ahead.
    """
    check_inputs(rgb, coc, matte, blades, highlight_gain)
    work = {} if work is None else work
    h, w = rgb.shape[:2]
    out = np.empty_like(rgb) if out is None else out
    lowest, highest = cv2.minMaxLoc(coc)[:2]
    if max(-lowest, highest) <= FOCUS_RADIUS:
        np.copyto(out, rgb)
        return out
    base = base_level(w, h)
    first = float(1 << base)  # px: the first slice is one pixel at the base level
    focus8 = focus_weight(coc, matte, first, (w, h), work)
    linear = lens_source(rgb, highlight_gain, work) if linear is None else linear
    focus = halve(focus8, base).astype(np.float32) * np.float32(1.0 / 255.0)
    if coc.shape == (h, w):
        coc_base = halve(coc, base)
    else:
        coc_base = cv2.resize(coc, linear.shape[1::-1], interpolation=cv2.INTER_LINEAR)
    layer, gain = _blurred_layer(linear, coc_base, focus, first, base, blades, rotation_deg)
    blurred = encode(layer, highlight_gain)
    gain8 = cv2.convertScaleAbs(gain, alpha=GAIN_SCALE)
    if base:
        gain8 = cv2.resize(gain8, (w, h), interpolation=cv2.INTER_LINEAR,
                           dst=scratch(work, "gain", (h, w), np.uint8))
    cv2.multiply(focus8, gain8, dst=focus8, scale=1.0 / GAIN_SCALE)
    in_place = np.may_share_memory(rgb, out)  # the frame must survive until blended
    layer_full = scratch(work, "blurred", rgb.shape, np.uint8) if in_place else out
    cv2.resize(blurred, (w, h), dst=layer_full, interpolation=cv2.INTER_LINEAR)
    if grain is not None:
        grain.apply(layer_full)
    if in_place:
        return _blend(rgb, layer_full, focus8, out, work)
    return _blend_over(rgb, focus8, out, work)
