"""Circle of confusion from inverse depth: how blurred each pixel is, in pixels.

Thin lens: the blur-circle diameter of a point at distance z, with a lens focused at z_f, is
proportional to |1/z − 1/z_f|. With d the normalised inverse depth (0..1, 1 = nearest; what
``depth`` gives) the signed CoC radius in full-resolution pixels is

    r = clip(K · (d_f − d) ∓ tolerance, ±r_max),   K = r_max / COC_SPAN

* r > 0 behind the focal plane (background), r < 0 in front (foreground bokeh);
* |d − d_f| ≤ ``tolerance`` stays sharp: the table or bench the subject touches keeps its
  detail (focal-plane integrity), then blur grows linearly with the inverse-depth distance
  (progressive roll-off) and reaches ``r_max`` at ``COC_SPAN`` beyond the tolerance band;
* r_max = ``render.blur_radius(strength, w, h)`` (4 % of the diagonal at strength 100).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from livebokeh.atomic import atomic_output
from livebokeh.errors import LivebokehError

FOCUS_TOLERANCE = 0.04  # normalised inverse depth around the focal plane that stays sharp
COC_SPAN = 0.4  # inverse-depth distance beyond the tolerance at which the CoC reaches r_max


def coc_map(depth: np.ndarray, focus: float, max_radius: float,
            tolerance: float = FOCUS_TOLERANCE, near_blur: bool = True,
            out: np.ndarray | None = None) -> np.ndarray:
    """Signed CoC radius (float32 pixels, >0 far, <0 near) from normalised inverse depth."""
    gain = np.float32(max_radius / COC_SPAN)
    out = np.subtract(np.float32(focus), depth, out=out, dtype=np.float32)
    far = out > tolerance
    near = out < -tolerance
    out[far] -= np.float32(tolerance)
    out[near] += np.float32(tolerance)
    out[~(far | near)] = 0.0
    out *= gain
    np.clip(out, -max_radius if near_blur else 0.0, max_radius, out=out)
    return out


def save_coc(path, coc: np.ndarray) -> None:
    """Write the CoC map (float32 pixels) as .npy or 32-bit float .tif/.tiff, atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".tif", ".tiff"):
        raise LivebokehError(f"--save-coc writes .npy or .tiff, not '{path.suffix}'")
    with atomic_output(path) as tmp:
        if suffix == ".npy":
            with open(tmp, "wb") as fh:
                np.save(fh, coc.astype(np.float32, copy=False))
        elif not cv2.imwrite(str(tmp), coc.astype(np.float32, copy=False)):
            raise LivebokehError(f"cannot write {path}")
