"""The CPU renderer: NumPy/OpenCV styles, lens, compositing and grain behind ``Renderer``."""

from __future__ import annotations

import cv2
import numpy as np

from livebokeh.render.grain import add_grain
from livebokeh.render.halo_free import composite, gaussian_background
from livebokeh.render.lens import lens_blur
from livebokeh.render.renderer import (
    GRAIN_FULL_RADIUS,
    GrainState,
    at_frame_size,
    background_job,
    require_coc,
)
from livebokeh.render.styles import motion_background, radial_background


class CpuRenderer:
    """The CPU renderers (``render``, ``styles``, ``lens``, ``grain``) behind ``Renderer``."""

    name = "cpu"

    def __init__(self, video: bool = True, seed: int = 0):
        self.grain = GrainState(video, seed)
        self._work: dict[str, np.ndarray] = {}
        self._lens_work: dict[str, np.ndarray] = {}

    def render(self, rgb, matte, settings, coc=None, out=None):
        height, width = rgb.shape[:2]
        out = np.empty_like(rgb) if out is None else out
        matte = at_frame_size(matte, width, height)
        if settings.style == "lens":
            coc = at_frame_size(require_coc(coc), width, height)
            lens_blur(rgb, coc, matte, blades=settings.blades,
                      rotation_deg=settings.blade_rotation, out=out, work=self._lens_work)
            amount = self._lens_grain_amount(coc)
        else:
            background = self.background(rgb, matte, settings)
            if background is None:
                np.copyto(out, rgb)
                return out
            composite(rgb, matte, background, out, self._work)
            amount = self._work["inv"]
        add_grain(out, amount, self.grain.sigma(rgb, matte, settings), self.grain.rng,
                  self._work)
        return out

    @staticmethod
    def background(rgb, matte, settings):
        """Low-resolution halo-free background of a 2-D style (float32 RGB); None: no blur."""
        job = background_job(settings, rgb.shape[1], rgb.shape[0])
        if job is None:
            return None
        style, params = job
        blur = {"gaussian": gaussian_background, "motion": motion_background,
                "radial": radial_background}[style]
        return blur(rgb, matte, *params)

    def _lens_grain_amount(self, coc: np.ndarray) -> np.ndarray:
        """How much of each pixel's own noise the lens blur removed: ``min(|coc| / 2, 1)``."""
        amount = self._work.get("blur_amount")
        if amount is None or amount.shape != coc.shape:
            amount = self._work["blur_amount"] = np.empty_like(coc)
        cv2.absdiff(coc, 0.0, dst=amount)
        cv2.multiply(amount, 1.0 / GRAIN_FULL_RADIUS, dst=amount)
        return cv2.min(amount, 1.0, dst=amount)
