"""The CPU renderer: NumPy/OpenCV styles, lens, compositing and grain behind ``Renderer``."""

from __future__ import annotations

import cv2
import numpy as np

from livebokeh.render.grain import Grain
from livebokeh.render.halo_free import composite, gaussian_background
from livebokeh.render.lens import lens_blur, lens_source
from livebokeh.render.renderer import GrainState, at_frame_size, background_job, require_coc
from livebokeh.render.styles import motion_background, radial_background


class CpuRenderer:
    """The CPU renderers (``render``, ``styles``, ``lens``, ``grain``) behind ``Renderer``."""

    name = "cpu"

    def __init__(self, video: bool = True, seed: int = 0):
        self.grain = GrainState(video, seed)
        self._work: dict[str, np.ndarray] = {}
        self._lens_work: dict[str, np.ndarray] = {}
        self._prepare_work: dict[str, np.ndarray] = {}  # ``prepare`` may run on another thread

    def prepare(self, rgb, settings):
        """Lens style: the frame in linear light at the blur's level (``lens_source``)."""
        return lens_source(rgb, work=self._prepare_work) if settings.style == "lens" else None

    def render(self, rgb, matte, settings, coc=None, out=None, prepared=None):
        height, width = rgb.shape[:2]
        out = np.empty_like(rgb) if out is None else out
        matte = at_frame_size(matte, width, height)
        grain = Grain(self.grain.sigma(rgb, matte, settings), self.grain.rng, self._work)
        if settings.style == "lens":
            coc = require_coc(coc)
            if coc.shape[0] > height or coc.shape[1] > width:
                coc = cv2.resize(coc, (width, height), interpolation=cv2.INTER_AREA)
            return lens_blur(rgb, coc, matte, blades=settings.blades,
                             rotation_deg=settings.blade_rotation, out=out,
                             work=self._lens_work, grain=grain, linear=prepared)
        background = self.background(rgb, matte, settings, self._work)
        if background is None:
            np.copyto(out, rgb)
            return out
        return composite(rgb, matte, background, out, self._work, grain)

    @staticmethod
    def background(rgb, matte, settings, work=None):
        """Low-resolution halo-free background of a 2-D style (float32 or uint8 RGB at a
        reduced level, see ``halo_free.gaussian_background``); None: no blur."""
        job = background_job(settings, rgb.shape[1], rgb.shape[0])
        if job is None:
            return None
        style, params = job
        if style == "gaussian":
            return gaussian_background(rgb, matte, *params, work=work)
        blur = {"motion": motion_background, "radial": radial_background}[style]
        return blur(rgb, matte, *params)
