"""Circle of confusion from inverse depth: how blurred each pixel is, in pixels.

Thin lens: the blur-circle diameter of a point at distance z, with a lens focused at z_f, is
proportional to |1/z − 1/z_f|. With d the normalised inverse depth (0..1, 1 = nearest; what
``depth`` gives, an affine map of 1/z) and Δ = d_f − d, the signed CoC radius in
full-resolution pixels is

    r = sign(Δ) · min(r_max, K · max(|Δ| − tol, 0)),   K = r_max / COC_SPAN

* r > 0 behind the focal plane (background), r < 0 in front (foreground bokeh);
* |Δ| ≤ tol (``FOCUS_TOLERANCE`` = 0.04) stays sharp: the table or bench the subject
  touches keeps its detail (focal-plane integrity); beyond it blur grows linearly with the
  inverse-depth distance, as the thin lens says (progressive roll-off), and reaches r_max
  at |Δ| = tol + ``COC_SPAN`` = 0.44, i.e. a bit under half the scene's depth range (the
  normalisation puts the 2nd..98th percentile of inverse depth on 0..1): a subject at 0.8
  has everything at ≤ 0.36 fully blurred and things at 0.58 half blurred;
* r_max = ``render.blur_radius(strength, w, h)`` (4 % of the diagonal at strength 100);
  with ``near_blur=False`` the near side is 0 (foreground kept sharp).
"""

from __future__ import annotations

import numpy as np

FOCUS_TOLERANCE = 0.04  # normalised inverse depth around the focal plane that stays sharp
COC_SPAN = 0.4  # inverse-depth distance beyond the tolerance at which the CoC reaches r_max


def coc_map(depth: np.ndarray, focus: float, max_radius: float,
            tolerance: float = FOCUS_TOLERANCE, near_blur: bool = True,
            out: np.ndarray | None = None) -> np.ndarray:
    """Signed CoC radius (float32 pixels, >0 far, <0 near) from normalised inverse depth.

    ``depth`` 0..1 (1 = nearest), ``focus`` the focal plane on that scale, ``max_radius`` and
    the result in full-resolution pixels, ``tolerance`` in inverse-depth units; ``out`` an
    optional float32 buffer of depth's shape. Formula in the module docstring.
    """
    if max_radius < 0 or tolerance < 0:
        raise ValueError("max_radius and tolerance must be >= 0")
    out = np.subtract(np.float32(focus), depth, out=out, dtype=np.float32)
    # Soft threshold: Δ − clip(Δ, ±tol) = sign(Δ) · max(|Δ| − tol, 0).
    out -= np.clip(out, -np.float32(tolerance), np.float32(tolerance))
    out *= np.float32(max_radius / COC_SPAN)
    np.clip(out, -max_radius if near_blur else 0.0, max_radius, out=out)
    return out


