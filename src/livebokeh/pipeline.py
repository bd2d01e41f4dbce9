"""The frame pipeline: segmentation → matte → render, as a streaming object and one-shot call.

``BokehProcessor`` takes RGB uint8 frames one by one (video files now, the live camera
later) and keeps the state that makes video stable: MediaPipe's VIDEO mode, the temporal
matte smoother and reusable frame-size buffers. ``blur_image`` is the one-shot form for
photos. Every stage is a pure array function from ``segmentation``, ``matte`` and ``render``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from livebokeh.background import BLUR, TRANSPARENT, Backdrop, cutout, replace_background
from livebokeh.dof import DepthOfField
from livebokeh.grain import add_grain, estimate_noise, grain_sigma
from livebokeh.lens import lens_blur
from livebokeh.matte import MatteRefiner, MatteSmoother, apply_refine_mask
from livebokeh.render import blur_radius, composite, gaussian_background
from livebokeh.segmentation import PersonSegmenter
from livebokeh.settings import BokehSettings
from livebokeh.styles import motion_background, motion_length, radial_background

GRAIN_FULL_RADIUS = 2.0  # pixels of CoC from which a pixel has lost all its own noise


@dataclass
class FrameResult:
    """One processed frame: ``image`` RGB uint8 HxWx3, ``matte`` float32 HxW (1 = subject).

    ``timings_ms`` holds per-stage wall time in milliseconds (segmentation, matte, depth,
    render). Lens style only: ``coc`` signed CoC radius (float32 HxW, pixels, >0 far) and
    ``depth`` the normalised inverse depth used (float32, 0..1, model resolution; None
    without depth). Arrays belong to the processor and are overwritten by the next frame.
    """

    image: np.ndarray
    matte: np.ndarray
    timings_ms: dict[str, float] = field(default_factory=dict)
    coc: np.ndarray | None = None
    depth: np.ndarray | None = None
    alpha: np.ndarray | None = None  # uint8 HxW, --background transparent only


def _given_matte(matte: np.ndarray, width: int, height: int) -> np.ndarray:
    """A user-supplied matte (uint8 0..255 or float 0..1) as float32 0..1 at frame size."""
    if matte.ndim == 3:
        matte = matte[..., 0]
    scale = 1.0 / 255.0 if matte.dtype == np.uint8 else 1.0
    matte = matte.astype(np.float32) * np.float32(scale)
    if matte.shape != (height, width):
        matte = cv2.resize(matte, (width, height), interpolation=cv2.INTER_LINEAR)
    return np.clip(matte, 0.0, 1.0)


class BokehProcessor:
    """Streaming background blur. Use as a context manager; call ``process`` per frame.

    ``video=True`` enables MediaPipe's tracking mode and temporal smoothing (if the settings
    ask for it); ``video=False`` treats each call as an independent photo.
    """

    def __init__(self, settings: BokehSettings | None = None, video: bool = True):
        self.settings = settings or BokehSettings()
        self.video = video
        self.segmenter = PersonSegmenter(self.settings.segmenter_model, video=video)
        self.refiner = MatteRefiner(guide="luma" if video else "color")
        self.smoother = MatteSmoother() if video and self.settings.temporal else None
        self._matte: np.ndarray | None = None
        self._out: np.ndarray | None = None
        self._work: dict[str, np.ndarray] = {}
        self._noise_sigma: float | None = None
        self._rng = np.random.default_rng(0)
        self.timings_ms: dict[str, float] = {}
        self.dof = DepthOfField(self.settings, video) if self.settings.style == "lens" else None
        self._lens_work: dict[str, np.ndarray] = {}
        self.backdrop = Backdrop()
        self.alpha: np.ndarray | None = None  # last frame's alpha (transparent mode)

    def __enter__(self) -> BokehProcessor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.segmenter.close()
        if self.dof is not None:
            self.dof.close()

    def update_settings(self, settings: BokehSettings) -> None:
        """Use ``settings`` from the next frame on (live control); the stream state is kept.

        Switching to the lens style opens the depth of field (model load, once); a new focus
        point is taken over without reloading; switching away closes it.
        """
        from livebokeh.focus import parse_focus

        face_changed = (settings.focus == "face") != (self.settings.focus == "face")
        self.settings = settings
        if self.dof is not None and (settings.style != "lens" or face_changed):
            self.dof.close()
            self.dof = None
        if self.dof is None and settings.style == "lens":
            self.dof = DepthOfField(settings, self.video)
        elif self.dof is not None:
            self.dof.settings, self.dof.focus = settings, parse_focus(settings.focus)

    def _buffers(self, height: int, width: int) -> None:
        if self._out is None or self._out.shape[:2] != (height, width):
            self._out = np.empty((height, width, 3), np.uint8)
            self._matte = np.empty((height, width), np.float32)

    def compute_matte(self, rgb: np.ndarray, timestamp_ms: int | None = None) -> np.ndarray:
        """Frame-size matte (float32 0..1) for an RGB frame: given, or segmented and refined."""
        height, width = rgb.shape[:2]
        self._buffers(height, width)
        t0 = time.perf_counter()
        if self.settings.matte is not None:
            self._matte[...] = _given_matte(self.settings.matte, width, height)
        else:
            if self.video:
                mask = self.segmenter.segment(rgb, timestamp_ms)
            else:
                mask = self.segmenter.segment_zoomed(rgb)
            t0 = self._lap("segmentation", t0)
            if self.smoother is not None:
                luma = cv2.cvtColor(self.segmenter.last_input, cv2.COLOR_RGB2GRAY)
                mask = self.smoother.update(mask, luma.astype(np.float32) / 255.0)
            self.refiner.refine(rgb, mask, out=self._matte)
        if self.settings.refine_mask is not None:
            apply_refine_mask(self._matte, self.settings.refine_mask)
        self._lap("matte", t0)
        return self._matte

    def _lap(self, stage: str, since: float) -> float:
        now = time.perf_counter()
        self.timings_ms[stage] = (now - since) * 1e3
        return now

    def render(self, rgb: np.ndarray, matte: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Blur the background of ``rgb`` behind ``matte`` into ``out`` (uint8 RGB)."""
        self.alpha = None
        if self.settings.background != BLUR:
            return self._render_backdrop(rgb, matte, out)
        if self.dof is not None:
            return self._render_lens(rgb, matte, out)
        background = self._background(rgb, matte)
        if background is None:
            np.copyto(out, rgb)
            return out
        composite(rgb, matte, background, out, self._work)
        self._add_grain(rgb, matte, out, self._work["inv"])
        return out

    def _render_backdrop(self, rgb: np.ndarray, matte: np.ndarray, out: np.ndarray):
        """Transparent cut-out (sets ``self.alpha``) or a new background, blurred by style."""
        s = self.settings
        spec = self.backdrop.spec(s.background)
        if spec.mode == TRANSPARENT:
            self.alpha = cutout(rgb, matte, out, self.backdrop.work)[1]
            return out
        height, width = rgb.shape[:2]
        blur_key = (s.style, s.strength, s.angle, s.length, s.center, s.amount)
        plate = self.backdrop.plate(spec, width, height, blur_key, self._background)
        replace_background(rgb, matte, plate, out=out, work=self.backdrop.work)
        self._add_grain(rgb, matte, out, self.backdrop.work["inverse"])
        return out

    def _render_lens(self, rgb: np.ndarray, matte: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Depth-aware lens blur: CoC from depth and focus, aperture-shaped blur, grain."""
        s = self.settings
        t0 = time.perf_counter()
        max_radius = blur_radius(s.strength, rgb.shape[1], rgb.shape[0])
        coc = self.dof.coc(rgb, matte, max_radius)
        self.timings_ms["depth"] = (time.perf_counter() - t0) * 1e3
        lens_blur(rgb, coc, matte, blades=s.blades, rotation_deg=s.blade_rotation, out=out,
                  work=self._lens_work)
        amount = self._work.get("blur_amount")
        if amount is None or amount.shape != coc.shape:
            amount = self._work["blur_amount"] = np.empty_like(coc)
        cv2.absdiff(coc, 0.0, dst=amount)
        cv2.multiply(amount, 1.0 / GRAIN_FULL_RADIUS, dst=amount)
        cv2.min(amount, 1.0, dst=amount)
        self._add_grain(rgb, matte, out, amount)
        return out

    def _background(self, rgb: np.ndarray, matte: np.ndarray) -> np.ndarray | None:
        """Low-resolution halo-free background for the 2-D styles; None: nothing to blur."""
        s = self.settings
        height, width = rgb.shape[:2]
        if s.style == "motion":
            length = motion_length(s.strength, width, height) if s.length is None else s.length
            return motion_background(rgb, matte, s.angle, length) if length >= 1 else None
        if s.style == "radial":
            amount = s.strength if s.amount is None else s.amount
            return radial_background(rgb, matte, s.center, amount) if amount > 0 else None
        sigma = blur_radius(s.strength, width, height) / 2.0
        return gaussian_background(rgb, matte, sigma) if sigma >= 0.3 else None

    def _add_grain(self, rgb: np.ndarray, matte: np.ndarray, out: np.ndarray,
                   blur_amount: np.ndarray) -> None:
        """Match the sensor noise of the sharp subject in the blurred areas (``--grain``).

        The subject's noise is estimated once per stream (first frame) or per photo.
        """
        if self.settings.grain == "off":
            return
        if self._noise_sigma is None or not self.video:
            self._noise_sigma = estimate_noise(rgb, matte)
        sigma = grain_sigma(self.settings.grain, self._noise_sigma)
        add_grain(out, blur_amount, sigma, self._rng, self._work)

    def process(self, rgb: np.ndarray, timestamp_ms: int | None = None,
                out: np.ndarray | None = None) -> FrameResult:
        """Blur one RGB uint8 HxWx3 frame. ``timestamp_ms`` must increase in video mode.

        ``out`` (optional, same shape as ``rgb``) receives the result; otherwise an internal
        buffer is used that the next call overwrites.
        """
        self.timings_ms = {}
        matte = self.compute_matte(rgb, timestamp_ms)
        t0 = time.perf_counter()
        result = self.render(rgb, matte, self._out if out is None else out)
        self._lap("render", t0)
        if self.dof is None:
            return FrameResult(result, matte, dict(self.timings_ms), alpha=self.alpha)
        return FrameResult(result, matte, dict(self.timings_ms), self.dof.last_coc,
                           self.dof.depth, alpha=self.alpha)


def blur_image(rgb: np.ndarray, settings: BokehSettings | None = None, **options) -> np.ndarray:
    """Blur the background of one RGB uint8 image; returns a new array of the same shape.

    ``options`` are ``BokehSettings`` fields (``strength=40``, ``style="gaussian"``, ...).
    """
    settings = settings or BokehSettings(**options)
    with BokehProcessor(settings, video=False) as processor:
        return processor.process(rgb).image.copy()
