"""The frame pipeline: segmentation → matte → (depth) → render, streaming or one-shot.

``BokehProcessor`` takes RGB uint8 frames one by one (video files, the live camera) and
keeps the state that makes video stable: MediaPipe's VIDEO mode, the temporal matte
smoother, the depth worker and reusable frame-size buffers. ``blur_image`` is the one-shot
form for photos. The stages are ``segmentation``, ``matte``, ``dof`` (lens style) and a
renderer from ``backend`` (CPU or CUDA), plus ``background`` for replaced backgrounds.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np

from livebokeh.matte.refine import PHOTO, VIDEO, MatteRefiner, apply_refine_mask, blur_erased
from livebokeh.matte.temporal import MatteSmoother
from livebokeh.perception.subject import PersonMask, SubjectFinder
from livebokeh.render.backend import make_renderer, select_backend
from livebokeh.render.background import Backdrop, cutout, replace_background
from livebokeh.render.cpu import CpuRenderer
from livebokeh.render.dof import DepthOfField
from livebokeh.render.grain import add_grain
from livebokeh.render.halo_free import blur_radius
from livebokeh.render.renderer import GrainState
from livebokeh.settings import BLUR, TRANSPARENT, BokehSettings, parse_focus
from livebokeh.threads import ahead, resolve_threads

log = logging.getLogger("livebokeh")


@functools.cache
def _note_once(message: str) -> None:
    """Log a notice (such as the backend choice) once per process."""
    log.info(message)


@dataclass
class FrameResult:
    """One processed frame: ``image`` RGB uint8 HxWx3, ``matte`` float32 HxW (1 = subject).

    ``timings_ms`` holds per-stage wall time in milliseconds (segmentation, matte, depth,
    render). Lens style only: ``coc`` signed CoC radius (float32 HxW, pixels, >0 far; in
    video mode at the depth model's resolution: resize it to the frame to read it per pixel) and
    ``depth`` the normalised inverse depth used (float32, 0..1, model resolution; None
    without depth). Arrays belong to the processor and are overwritten by the next frame.
    """

    image: np.ndarray
    matte: np.ndarray
    timings_ms: dict[str, float] = field(default_factory=dict)
    coc: np.ndarray | None = None
    depth: np.ndarray | None = None
    alpha: np.ndarray | None = None  # uint8 HxW, --background transparent only


@dataclass
class Perception:
    """What the perception stage hands to the matte stage for one frame (owned arrays).

    ``person``: the people's confidence over a frame region (``PersonMask``), or None when
    the settings give a matte. ``timings_ms``: time spent, per stage. ``matte``: the frame's
    matte when the perception stage made it too (its buffer is the caller's); ``ahead``:
    with it, the lens style's CoC and frame pass (``LensAhead``), when they could be made.
    """

    person: PersonMask | None
    timings_ms: dict[str, float]
    matte: np.ndarray | None = None  # made ahead: ``perceive(..., matte_into=buffer)``
    ahead: LensAhead | None = None  # lens style, made ahead with the matte


@dataclass
class LensAhead:
    """The lens style's stages that a pipelined caller runs on the perception thread.

    ``coc``: the frame's CoC map at the depth model's resolution, ``depth`` the normalised
    inverse depth behind it, ``prepared`` the renderer's frame-only pass
    (``Renderer.prepare``). All owned by the frame.
    """

    coc: np.ndarray
    depth: np.ndarray | None
    prepared: object | None


def _lens_style(dof: DepthOfField | None, settings: BokehSettings) -> bool:
    """Whether a frame gets a CoC map: the lens style, blurring the frame's own background."""
    return dof is not None and settings.background == BLUR


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
        s = self.settings
        self.finder = SubjectFinder(s.people, s.segmenter_model, video, s.subject)
        self.refiner = MatteRefiner(VIDEO if video else PHOTO)
        self.smoother = MatteSmoother() if video and self.settings.temporal else None
        if self.smoother is not None:  # the model may skip frames whose motion it explains
            self.finder.predictor = self.smoother.predict
        self._matte: np.ndarray | None = None
        self._out: np.ndarray | None = None
        self.timings_ms: dict[str, float] = {}
        self._given: tuple[np.ndarray, np.ndarray] | None = None  # (--matte, as float32)
        self.dof = DepthOfField(self.settings, video) if self.settings.style == "lens" else None
        self._dof_lock = threading.Lock()  # the perception thread's lens work vs a switch
        backend, reason = select_backend(self.settings.backend)
        _note_once(reason)
        self.renderer = make_renderer(backend, video)
        self.grain = GrainState(video)  # grain for replaced backgrounds
        self.backdrop = Backdrop()
        self.alpha: np.ndarray | None = None  # last frame's alpha (transparent mode)

    def __enter__(self) -> BokehProcessor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.finder.close()
        if self.dof is not None:
            self.dof.close()

    def update_settings(self, settings: BokehSettings) -> None:
        """Use ``settings`` from the next frame on (live control); the stream state is kept.

        Switching to the lens style opens the depth of field (model load, once); a new focus
        point is taken over without reloading; switching away closes it. A new ``people``
        mode or ``subject`` point takes effect on the next frame (the person at the point
        becomes the main subject). May be called while another thread perceives a frame
        (``process_stream``, ``cam``): the switch waits for that frame's lens work, and the
        depth of field it used is closed only after; the subject finder takes a new choice
        on the perceiving thread, at its next frame.
        """
        face_changed = (settings.focus == "face") != (self.settings.focus == "face")
        dof = self.dof
        if dof is not None and (settings.style != "lens" or face_changed):
            dof = None
        if dof is None and settings.style == "lens":
            dof = DepthOfField(settings, self.video)  # may raise: nothing changed yet
        elif dof is not None:
            dof.settings, dof.focus = settings, parse_focus(settings.focus)
        with self._dof_lock:
            old = self.dof
            self.settings, self.dof = settings, dof
        if old is not None and old is not dof:
            old.close()

    def _buffers(self, height: int, width: int) -> None:
        if self._out is None or self._out.shape[:2] != (height, width):
            self._out = np.empty((height, width, 3), np.uint8)
            self._matte = np.empty((height, width), np.float32)

    def perceive(self, rgb: np.ndarray, timestamp_ms: int | None = None,
                 matte_into: np.ndarray | None = None) -> Perception:
        """The perception stage: where the people are in this frame (the model's confidence).

        Its result owns its arrays, so the next frame's ``perceive`` may run on another thread
        while ``finish`` works on this one. Frames must be perceived in order. ``matte_into``
        (float32 HxW at the frame's size, kept untouched until the frame is finished): make
        the matte here too, so that a pipelined caller runs the matte stage on the perception
        thread (with the lens style at 1080p the render alone fills the finishing thread).
        """
        timings: dict[str, float] = {}
        person = None
        settings = self.settings
        if settings.matte is None:
            t0 = time.perf_counter()
            if not self.video:
                self.finder.reset()  # every photo on its own
            self.finder.choose(settings.people, settings.subject)  # as of ``update_settings``
            person = self.finder.find(rgb, timestamp_ms)
            timings["segmentation"] = (time.perf_counter() - t0) * 1e3
        perception = Perception(person, timings)
        if matte_into is not None:
            t0 = time.perf_counter()
            perception.matte = self._matte_into(rgb, perception, matte_into)
            timings["matte"] = (time.perf_counter() - t0) * 1e3
            perception.ahead = self._lens_ahead(rgb, perception.matte, timings)
        return perception

    def _lens_ahead(self, rgb: np.ndarray, matte: np.ndarray,
                    timings: dict[str, float]) -> LensAhead | None:
        """The CoC and the renderer's frame-only pass, on the perception thread.

        With the lens style at 1080p the render thread sets the frame rate (render 18 ms
        against segmentation + matte 12 on one core): this moves 1-2 ms of depth and 2.8 of
        render over. Only where the CoC comes out at the depth model's resolution, a new
        array per frame (a video with a depth source and no erase strokes): frame-size CoC
        maps live in one reused buffer and stay on the finishing thread.
        """
        with self._dof_lock:  # ``update_settings`` on another thread waits for this frame
            dof, settings = self.dof, self.settings
            if not _lens_style(dof, settings) or not dof.has_depth \
                    or settings.refine_mask is not None:
                return None
            coc = self._coc(rgb, matte, timings, dof, settings)
            t0 = time.perf_counter()
            prepared = self.renderer.prepare(rgb, settings)
            timings["render"] = (time.perf_counter() - t0) * 1e3
            return LensAhead(coc, dof.depth, prepared)

    @property
    def _lens(self) -> bool:
        """``_lens_style`` of the processor's current depth of field and settings."""
        return _lens_style(self.dof, self.settings)

    def matte_from(self, rgb: np.ndarray, perception: Perception) -> np.ndarray:
        """The matte stage: frame-size matte (float32 0..1) from a frame's perception."""
        if perception.matte is not None:
            return perception.matte
        height, width = rgb.shape[:2]
        self._buffers(height, width)
        t0 = time.perf_counter()
        self._matte_into(rgb, perception, self._matte)
        self._lap("matte", t0)
        return self._matte

    def _matte_into(self, rgb: np.ndarray, perception: Perception, out: np.ndarray):
        """Given, or smoothed and refined from the perception; then the brush mask."""
        height, width = rgb.shape[:2]
        if perception.person is None:
            given = self.settings.matte
            if self._given is None or self._given[0] is not given or \
                    self._given[1].shape != (height, width):  # converted once, not per frame
                self._given = (given, _given_matte(given, width, height))
            np.copyto(out, self._given[1])
        else:
            person = perception.person
            confidence = carry = None
            if self.smoother is not None:
                confidence = self.smoother.update(person)
                carry = self.smoother.carry if person.carried else None
            self.refiner.refine(rgb, person, confidence, out=out, carry=carry)
        if self.settings.refine_mask is not None:
            apply_refine_mask(out, self.settings.refine_mask)
        return out

    def compute_matte(self, rgb: np.ndarray, timestamp_ms: int | None = None) -> np.ndarray:
        """Frame-size matte (float32 0..1) for an RGB frame: given, or segmented and refined."""
        return self.matte_from(rgb, self.perceive(rgb, timestamp_ms))

    def _lap(self, stage: str, since: float) -> float:
        now = time.perf_counter()
        self.timings_ms[stage] = (now - since) * 1e3
        return now

    def render(self, rgb: np.ndarray, matte: np.ndarray, out: np.ndarray,
               coc: np.ndarray | None = None, prepared: object | None = None) -> np.ndarray:
        """Blur the background of ``rgb`` behind ``matte`` into ``out`` (uint8 RGB).

        ``coc`` (lens style) is the signed CoC map from ``DepthOfField``, ``prepared`` the
        renderer's frame-only pass when made ahead. The blur itself runs on the backend's
        renderer (CPU or CUDA, ``livebokeh.render.backend``).
        """
        self.alpha = None
        if self.settings.background != BLUR:
            return self._render_backdrop(rgb, matte, out)
        return self.renderer.render(rgb, matte, self.settings, coc, out, prepared)

    def _render_backdrop(self, rgb: np.ndarray, matte: np.ndarray, out: np.ndarray):
        """Transparent cut-out (sets ``self.alpha``) or a new background, blurred by style."""
        s = self.settings
        spec = self.backdrop.spec(s.background)
        if spec.mode == TRANSPARENT:
            self.alpha = cutout(rgb, matte, out, self.backdrop.work)[1]
            return out
        height, width = rgb.shape[:2]
        blur_key = (s.style, s.strength, s.angle, s.length, s.center, s.amount)
        plate = self.backdrop.plate(spec, width, height, blur_key,
                                    lambda image, m: CpuRenderer.background(image, m, s))
        replace_background(rgb, matte, plate, out=out, work=self.backdrop.work)
        add_grain(out, self.backdrop.work["inverse"], self.grain.sigma(rgb, matte, s),
                  self.grain.rng, self.backdrop.work)
        return out

    def _coc(self, rgb: np.ndarray, matte: np.ndarray, timings: dict[str, float],
             dof: DepthOfField | None, settings: BokehSettings) -> np.ndarray | None:
        """Lens style: the signed CoC map (pixels) from depth and focus; None otherwise.

        ``dof`` and ``settings``: the processor's, taken once by the calling thread. Its time
        goes into ``timings["depth"]``.
        """
        if not _lens_style(dof, settings):
            return None
        t0 = time.perf_counter()
        max_radius = blur_radius(settings.strength, rgb.shape[1], rgb.shape[0])
        erase = settings.refine_mask
        # video renders take the CoC at the depth map's resolution (never made at frame size);
        # erase strokes are painted at frame size, so then the CoC is too
        coc = dof.coc(rgb, matte, max_radius, frame_size=not self.video or erase is not None)
        if erase is not None:  # erase strokes blur whatever the depth
            blur_erased(coc, erase, max_radius)
        timings["depth"] = (time.perf_counter() - t0) * 1e3
        return coc

    def process(self, rgb: np.ndarray, timestamp_ms: int | None = None,
                out: np.ndarray | None = None) -> FrameResult:
        """Blur one RGB uint8 HxWx3 frame. ``timestamp_ms`` must increase in video mode.

        ``out`` (optional, same shape as ``rgb``) receives the result; otherwise an internal
        buffer is used that the next call overwrites.
        """
        return self.finish(rgb, self.perceive(rgb, timestamp_ms), out)

    def process_stream(self, frames: Iterable, threads: int | None = None
                       ) -> Iterator[FrameResult]:
        """``process`` over a stream, with perception and matte one frame ahead on a thread.

        ``frames`` yields RGB uint8 arrays or tuples ``(rgb, timestamp_ms[, out])``. Results
        come in the frames' order, each valid until the next one is taken (as with
        ``process``). While frame i is finished (depth, render) on the caller's thread,
        frame i+1 is read, segmented and matted on the worker: a frame must stay unchanged
        until its result is yielded, and ``frames`` is iterated on the worker thread.
        ``threads`` (``livebokeh.threads``): 1 runs everything on the caller's thread.
        """
        pipelined = resolve_threads(threads) > 1
        mattes = MatteRing(STREAM_IN_FLIGHT)

        def perceived(item):
            rgb, timestamp_ms, out = _frame_item(item)
            matte = mattes.next(*rgb.shape[:2]) if pipelined else None
            return rgb, out, self.perceive(rgb, timestamp_ms, matte)

        stages = map(perceived, frames)
        if pipelined:
            stages = ahead(frames, perceived, depth=1, name="perceive")
        for rgb, out, perception in stages:
            yield self.finish(rgb, perception, out)

    def finish(self, rgb: np.ndarray, perception: Perception,
               out: np.ndarray | None = None) -> FrameResult:
        """The matte (unless perceived with it), depth and render stages of a frame."""
        self.timings_ms = timings = dict(perception.timings_ms)
        self._buffers(*rgb.shape[:2])
        matte = self.matte_from(rgb, perception)
        lens = perception.ahead
        if lens is None or not self._lens:  # not made ahead, or the settings changed since
            coc = self._coc(rgb, matte, timings, self.dof, self.settings)
            lens = LensAhead(coc, self.dof.depth, None) if coc is not None else None
        coc, prepared = (lens.coc, lens.prepared) if lens is not None else (None, None)
        t0 = time.perf_counter()
        result = self.render(rgb, matte, self._out if out is None else out, coc, prepared)
        timings["render"] = timings.get("render", 0.0) + (time.perf_counter() - t0) * 1e3
        if lens is None:
            return FrameResult(result, matte, dict(timings), alpha=self.alpha)
        return FrameResult(result, matte, dict(timings), lens.coc, lens.depth, alpha=self.alpha)


STREAM_IN_FLIGHT = 3  # frames between perception and finish in ``ahead(depth=1)``: one
# being perceived, one waiting in the hand-off, one being finished


class MatteRing:
    """Frame-size matte buffers (float32) used in turn by a perception stage running ahead.

    ``count`` must cover every frame perceived and not yet finished; the buffers are made
    once per frame size, not per frame.
    """

    def __init__(self, count: int):
        self.count, self._turn = count, 0
        self._buffers: list[np.ndarray] = []

    def next(self, height: int, width: int) -> np.ndarray:
        if not self._buffers or self._buffers[0].shape != (height, width):
            self._buffers = [np.empty((height, width), np.float32) for _ in range(self.count)]
        self._turn = (self._turn + 1) % self.count
        return self._buffers[self._turn]


def _frame_item(item) -> tuple[np.ndarray, int | None, np.ndarray | None]:
    """``(rgb, timestamp_ms, out)`` from a stream item: an array or a 1..3-tuple."""
    if isinstance(item, np.ndarray):
        return item, None, None
    rgb, timestamp_ms, out = (tuple(item) + (None, None))[:3]
    return rgb, timestamp_ms, out


def blur_image(rgb: np.ndarray, settings: BokehSettings | None = None, **options) -> np.ndarray:
    """Blur the background of one RGB uint8 image; returns a new array of the same shape.

    ``options`` are ``BokehSettings`` fields (``strength=40``, ``style="gaussian"``, ...).
    """
    settings = settings or BokehSettings(**options)
    with BokehProcessor(settings, video=False) as processor:
        return processor.process(rgb).image.copy()
