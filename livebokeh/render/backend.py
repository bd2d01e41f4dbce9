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

from livebokeh.errors import LivebokehError
from livebokeh.render.cpu import CpuRenderer
from livebokeh.render.renderer import Renderer

log = logging.getLogger("livebokeh")

BACKENDS = ("auto", "cpu", "cuda")
GPU_INSTALL_HINT = "pip install 'livebokeh[gpu]'"


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

    def prepare(self, rgb, settings):
        return self.active.prepare(rgb, settings)

    def render(self, rgb, matte, settings, coc=None, out=None, prepared=None):
        if self.active is self.primary:
            try:
                return self.primary.render(rgb, matte, settings, coc, out, prepared)
            except self.errors as error:
                log.warning("%s renderer failed (%s): using %s for the rest of the stream",
                            self.primary.name, _one_line(error), self.fallback.name)
                self.active, prepared = self.fallback, None  # prepared by the primary
        return self.fallback.render(rgb, matte, settings, coc, out, prepared)


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
        from livebokeh.render.cuda.renderer import self_test

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
    from livebokeh.render.cuda.renderer import CudaRenderer

    return FallbackRenderer(CudaRenderer(video=video, seed=seed), CpuRenderer(video, seed))
