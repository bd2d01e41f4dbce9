"""Rendering backends: the CPU renderers (NumPy/OpenCV) or the CUDA port (CuPy), chosen once.

``select_backend("auto" | "cpu" | "cuda")`` returns ``(name, reason)``: auto takes CUDA when
CuPy imports, a device is present and a small test kernel runs, else the CPU, and the
reason is one line saying why (for the log and ``doctor``). Asking for ``cuda`` where it
cannot run raises ``LivebokehError``.

Both backends implement ``Renderer.render(rgb, matte, settings, coc=None, out=None)``:
style, blur, composite and grain for one frame, RGB uint8 in and out. ``make_renderer``
wraps the CUDA renderer in ``FallbackRenderer``, which moves a stream to the CPU for good
on the first CUDA error (out of memory, a lost device), re-rendering that frame on the CPU
so no frame is dropped.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Protocol

import cv2
import numpy as np

from livebokeh.errors import LivebokehError
from livebokeh.grain import add_grain, estimate_noise, grain_sigma
from livebokeh.lens import lens_blur
from livebokeh.render import blur_radius, composite, gaussian_background
from livebokeh.settings import BokehSettings
from livebokeh.styles import motion_background, motion_length, radial_background

log = logging.getLogger("livebokeh")

BACKENDS = ("auto", "cpu", "cuda")
GPU_INSTALL_HINT = "pip install 'livebokeh[gpu]'"
GRAIN_FULL_RADIUS = 2.0  # pixels of CoC from which a pixel has lost all its own noise
MIN_SIGMA = 0.3  # pixels: a gaussian sigma below this leaves the frame as it is


class Renderer(Protocol):
    """Renders one frame's blurred background and composite; keeps per-stream state."""

    name: str

    def render(self, rgb: np.ndarray, matte: np.ndarray, settings: BokehSettings,
               coc: np.ndarray | None = None, out: np.ndarray | None = None) -> np.ndarray:
        """``rgb`` HxWx3 uint8 → ``out`` (HxWx3 uint8, allocated when None), returned.

        ``matte`` float32 0..1 (1 = subject) and ``coc`` (lens style: signed CoC radius in
        full-resolution pixels, > 0 far) may be at frame size or at a lower resolution;
        they are resized bilinearly to the frame.
        """
        ...


# --- style parameters shared by every backend ---------------------------------------------

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


# --- CPU ---------------------------------------------------------------------------------------

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


# --- fallback ---------------------------------------------------------------------------------

def cuda_errors() -> tuple[type[BaseException], ...]:
    """CuPy's exception types for a failing device (empty when CuPy is not importable)."""
    try:
        import cupy
    except Exception:
        return ()
    return (cupy.cuda.memory.OutOfMemoryError, cupy.cuda.runtime.CUDARuntimeError,
            cupy.cuda.driver.CUDADriverError)


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text[:200]


class FallbackRenderer:
    """``primary`` until it raises one of ``errors``; then ``fallback`` for good.

    The frame that failed is rendered again by ``fallback``, so no frame is lost; one
    warning line is logged.
    """

    def __init__(self, primary: Renderer, fallback: Renderer,
                 errors: tuple[type[BaseException], ...] | None = None):
        self.primary, self.fallback = primary, fallback
        self.errors = cuda_errors() if errors is None else errors
        self.active = primary

    @property
    def name(self) -> str:
        return self.active.name

    def render(self, rgb, matte, settings, coc=None, out=None):
        if self.active is self.primary:
            try:
                return self.primary.render(rgb, matte, settings, coc, out)
            except self.errors as error:
                log.warning("%s renderer failed (%s): using %s for the rest of the stream",
                            self.primary.name, _one_line(error), self.fallback.name)
                self.active = self.fallback
        return self.fallback.render(rgb, matte, settings, coc, out)


# --- selection ----------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def cuda_problem() -> str | None:
    """Why the CUDA backend cannot run here (one line), or None when it can. Cached."""
    try:
        import cupy
    except ImportError as error:
        if error.name == "cupy":
            return f"CuPy not installed ({GPU_INSTALL_HINT})"
        return f"CuPy does not load ({_one_line(error)})"  # e.g. a missing dependency
    except Exception as error:  # a broken CuPy install raises all sorts
        return f"CuPy does not load ({_one_line(error)})"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as error:  # no driver: CUDARuntimeError
        return f"no CUDA driver ({_one_line(error)})"
    if count == 0:
        return "no CUDA device"
    try:
        from livebokeh.gpu.cuda_render import self_test

        self_test()
    except Exception as error:  # NVRTC missing, driver too old, ...
        return f"CUDA test kernel failed ({_one_line(error)})"
    return None


def describe_device() -> str:
    """The CUDA device, CuPy and runtime versions in one line (CuPy must be usable)."""
    import cupy

    device = cupy.cuda.Device()
    props = cupy.cuda.runtime.getDeviceProperties(device.id)
    name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    runtime = cupy.cuda.runtime.runtimeGetVersion()
    free, total = device.mem_info
    return (f"{name}, {total / 2**30:.0f} GiB ({free / 2**30:.0f} free), CuPy {cupy.__version__}, "
            f"CUDA runtime {runtime // 1000}.{runtime % 1000 // 10}")


def select_backend(choice: str = "auto") -> tuple[str, str]:
    """``(backend name, one-line reason)`` for ``--backend choice`` (auto, cpu, cuda).

    Raises ``LivebokehError`` for an unknown choice or for ``cuda`` where it cannot run.
    """
    if choice not in BACKENDS:
        raise LivebokehError(f"unknown backend '{choice}' (choose from {', '.join(BACKENDS)})")
    if choice == "cpu":
        return "cpu", "cpu: requested with --backend cpu"
    problem = cuda_problem()
    if problem is None:
        return "cuda", f"cuda: {describe_device()}"
    if choice == "cuda":
        raise LivebokehError(f"--backend cuda is not available: {problem}")
    return "cpu", f"cpu: {problem}"


def make_renderer(name: str, video: bool = True, seed: int = 0) -> Renderer:
    """A renderer for a backend name from ``select_backend`` ("cpu" or "cuda").

    CUDA comes wrapped in ``FallbackRenderer`` with a CPU renderer behind it.
    """
    if name == "cpu":
        return CpuRenderer(video, seed)
    from livebokeh.gpu.cuda_render import CudaRenderer

    return FallbackRenderer(CudaRenderer(video=video, seed=seed), CpuRenderer(video, seed))
