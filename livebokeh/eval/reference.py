"""Exact (slow) lens blur: the ground truth the fast renderer ``lens.lens_blur`` is measured by.

Every pixel scatters the aperture shape (``lens.aperture_kernel``, area-normalised) with its
own radius ``|coc|``, quantised to ``LAYER_STEP`` pixels. Pixels of equal quantised CoC form
one depth layer; layers are composited from the farthest (most positive CoC) to the nearest
with premultiplied colour and accumulated coverage (the "over" operator), and the result is
divided by the accumulated coverage, which removes the dark seams thin layers would
otherwise leave on continuous surfaces and normalises the image border. All in linear light
with the same highlight boost and tone map as the fast renderer (``lens.decode`` /
``lens.encode``).

Vectorised per layer: a layer's scatter is one convolution of that layer (cropped to where
it reaches) with its kernel. Seconds for a 320x240 image at large CoC: for tests and
evaluation only.
"""

from __future__ import annotations

import cv2
import numpy as np

from livebokeh.render.lens import HIGHLIGHT_GAIN, check_inputs, decode, encode, scatter_kernel

LAYER_STEP = 0.25  # px: CoC quantisation, i.e. depth-layer thickness in blur radius


def _layer_scatter(linear: np.ndarray, mask: np.ndarray, radius: float, blades: int,
                   rotation_deg: float):
    """Scatter of one layer: (slices of the image it reaches, premultiplied RGB + coverage)."""
    kernel = scatter_kernel(radius, blades, rotation_deg)
    half = kernel.shape[0] // 2
    h, w = mask.shape
    rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    region = (slice(max(0, rows[0] - half), min(h, rows[-1] + half + 1)),
              slice(max(0, cols[0] - half), min(w, cols[-1] + half + 1)))
    inside = mask[region].astype(np.float32)
    source = np.empty(inside.shape + (4,), np.float32)
    np.multiply(linear[region], inside[..., None], out=source[..., :3])
    source[..., 3] = inside
    return region, cv2.filter2D(source, -1, kernel, borderType=cv2.BORDER_CONSTANT)


def reference_lens_blur(rgb: np.ndarray, coc: np.ndarray, blades: int = 0,
                        rotation_deg: float = 0.0,
                        highlight_gain: float = HIGHLIGHT_GAIN) -> np.ndarray:
    """Exact layered scatter of ``rgb`` (RGB uint8 HxWx3) by ``coc`` → RGB uint8.

    ``coc``: float32 HxW signed CoC radius in pixels (> 0 far, < 0 near, 0 sharp).
    ``blades``, ``rotation_deg``, ``highlight_gain``: as ``lens.lens_blur``.
    """
    check_inputs(rgb, coc, None, blades, highlight_gain)
    linear = decode(rgb, highlight_gain)
    layers = np.rint(coc / LAYER_STEP).astype(np.int32)
    colour = np.zeros(rgb.shape, np.float32)
    coverage = np.zeros(coc.shape, np.float32)
    for value in np.unique(layers)[::-1]:  # most positive CoC = farthest first
        region, scattered = _layer_scatter(linear, layers == value, abs(value) * LAYER_STEP,
                                           blades, rotation_deg)
        alpha = np.minimum(scattered[..., 3], 1.0)
        colour[region] = scattered[..., :3] + (1.0 - alpha)[..., None] * colour[region]
        coverage[region] = alpha + (1.0 - alpha) * coverage[region]
    return encode(colour / np.maximum(coverage, 1e-6)[..., None], highlight_gain)
