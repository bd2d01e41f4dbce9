"""Still inputs that apply to every frame: ``--mask``, ``--matte`` and ``--depth-map``.

Photos, videos, the camera and batch share this: each still is read once, at the frame size.
"""

from __future__ import annotations

from livebokeh.io.images import read_grey
from livebokeh.perception.depth import load_depth_map
from livebokeh.settings import BokehSettings


def load_still_inputs(settings: BokehSettings, size: tuple[int, int], mask_path=None,
                      matte_path=None, depth_map_path=None, depth_kind: str = "inverse") -> None:
    """Read --mask, --matte and --depth-map (still images) at ``size`` (w, h) into ``settings``.

    Photos, videos and the camera share this: a still is applied to every frame.
    """
    if mask_path is not None:
        settings.refine_mask = read_grey(mask_path, size)
    if matte_path is not None:
        settings.matte = read_grey(matte_path, size)
    if depth_map_path is not None:
        settings.depth_map = load_depth_map(depth_map_path, depth_kind, size)
