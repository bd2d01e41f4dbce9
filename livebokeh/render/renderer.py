"""What every rendering backend shares: the ``Renderer`` interface and per-style parameters.

The CPU renderer (``render.cpu``) and the CUDA port (``render.cuda``) implement
``Renderer.render`` and take their style parameters, grain state and CoC checks from here,
so both read the same settings the same way.
"""

from __future__ import annotations

from typing import Protocol

import cv2
import numpy as np

from livebokeh.errors import LivebokehError
from livebokeh.render.grain import estimate_noise, grain_sigma
from livebokeh.render.halo_free import blur_radius
from livebokeh.render.styles import motion_length
from livebokeh.settings import BokehSettings

GRAIN_FULL_RADIUS = 2.0  # pixels of CoC from which a pixel has lost all its own noise
MIN_SIGMA = 0.3  # pixels: a gaussian sigma below this leaves the frame as it is


class Renderer(Protocol):
    """Renders one frame's blurred background and composite; keeps per-stream state."""

    name: str

    def prepare(self, rgb: np.ndarray, settings: BokehSettings) -> object | None:
        """The part of ``render`` that needs only the frame, for a pipelined caller to run
        ahead on another thread and pass to ``render``; None when there is none."""
        ...

    def render(self, rgb: np.ndarray, matte: np.ndarray, settings: BokehSettings,
               coc: np.ndarray | None = None, out: np.ndarray | None = None,
               prepared: object | None = None) -> np.ndarray:
        """``rgb`` HxWx3 uint8 → ``out`` (HxWx3 uint8, allocated when None), returned.

        ``matte`` float32 0..1 (1 = subject) and ``coc`` (lens style: signed CoC radius in
        full-resolution pixels, > 0 far) may be at frame size or at a lower resolution;
        they are resized bilinearly to the frame. ``prepared``: this frame's ``prepare``.
        """
        ...


def background_job(settings: BokehSettings, width: int, height: int):
    """What a 2-D style does to a ``width`` x ``height`` frame: ``(style, parameters)``.

    gaussian → (sigma px,), motion → (angle degrees, streak length px), radial →
    ((cx, cy) 0..1, amount 0..100). None when the setting blurs nothing (the frame is
    returned as it is, without grain).
    """
    s = settings
    if s.style == "motion":
        length = motion_length(s.strength, width, height) if s.length is None else s.length
        return ("motion", (s.angle, length)) if length >= 1 else None
    if s.style == "radial":
        amount = s.strength if s.amount is None else s.amount
        return ("radial", (tuple(s.center), amount)) if amount > 0 else None
    sigma = blur_radius(s.strength, width, height) / 2.0
    return ("gaussian", (sigma,)) if sigma >= MIN_SIGMA else None


def at_frame_size(plane: np.ndarray, width: int, height: int) -> np.ndarray:
    """A float32 HxW plane (matte, CoC) at frame size: bilinear resize if it is smaller."""
    if plane.shape == (height, width):
        return plane
    return cv2.resize(plane, (width, height), interpolation=cv2.INTER_LINEAR)


def require_coc(coc: np.ndarray | None) -> np.ndarray:
    if coc is None:
        raise LivebokehError("lens style: the renderer needs a CoC map")
    return coc


class GrainState:
    """Grain of one stream: the subject's noise estimate and the random source.

    The estimate is taken on the first frame of a video (``video=True``) or on every photo.
    Every backend draws from ``rng`` in the same order as ``grain.add_grain``, so equal
    seeds give equal grain on CPU and GPU.
    """

    def __init__(self, video: bool = True, seed: int = 0):
        self.video = video
        self.rng = np.random.default_rng(seed)
        self.noise_sigma: float | None = None

    def sigma(self, rgb: np.ndarray, matte: np.ndarray, settings: BokehSettings) -> float:
        """Grain std in 8-bit levels for this frame (0 when ``--grain off``)."""
        if settings.grain == "off":
            return 0.0
        if self.noise_sigma is None or not self.video:
            height, width = rgb.shape[:2]
            self.noise_sigma = estimate_noise(rgb, at_frame_size(matte, width, height))
        return grain_sigma(settings.grain, self.noise_sigma)
