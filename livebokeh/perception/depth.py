"""Monocular depth with ONNX Runtime: relative inverse depth (larger = nearer), 0..1.

A ``DepthAdapter`` describes what a model wants and gives (input size, channel order,
normalisation, depth or inverse depth), so any ONNX depth model can be used by path; the
preset matches TCMonoDepth small, the model ``livebokeh models fetch`` downloads.

Output is normalised per frame to 0..1 by robust percentiles (2nd → 0, 98th → 1), since
monocular models give depth only up to scale and shift. In video ``AsyncDepth`` runs the
model every N frames on a worker thread and smooths both the map and its normalisation
bounds over time, so the frame loop never waits for it.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from livebokeh.errors import LivebokehError
from livebokeh.io.images import read_depth_values
from livebokeh.models import find_model, resolve_model

LOW_PERCENTILE, HIGH_PERCENTILE = 2.0, 98.0
# Frames between depth updates in video. One estimate costs ~12 ms on one busy core (720p
# frame → 192x320 incl. pre/post; 9-10 ms of it is the model): every 3rd frame at 30 fps is
# 10 updates/s for ~12 % of one core, and the map lags a moving subject by at most ~0.1 s
# plus the EMA; 5 halves the cost when the frame loop itself is short of CPU.
DEPTH_EVERY = 3
DEPTH_SMOOTHING = 0.5  # EMA weight of a new depth map (and of its percentile bounds)
# One intra-op thread: the worker then runs on the core the frame loop is not using. Measured
# on 2 shared cores: 1 thread 9.4 ms/run, 2 threads 17 ms (median; they fight the loop).
ONNX_THREADS = 1


@dataclass(frozen=True)
class DepthAdapter:
    """How to feed an ONNX depth model and read its output.

    ``size`` (height, width) in pixels; ``bgr`` channel order; input = (pixel * scale -
    mean) / std per channel with pixel in 0..255 (ImageNet-style models: ``scale`` 1/255,
    ``mean`` 0.485,0.456,0.406, ``std`` 0.229,0.224,0.225); the input is a float32 1x3xHxW
    (NCHW) tensor; ``output`` "inverse" (disparity, larger = nearer) or "depth" (distance),
    at any 2-D size.

    For a model given by path, the size comes from its input shape where static (else
    192x320), and a JSON sidecar next to it, ``<model file>.json`` (e.g.
    ``midas.onnx.json``) holding any of these keys overrides them: ``{"size": [256, 256],
    "scale": 0.00392, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}``.
    In code, pass ``DepthEstimator(path, adapter=DepthAdapter(...))``.
    """

    size: tuple[int, int] = (192, 320)
    bgr: bool = False
    scale: float = 1.0
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    output: str = "inverse"

    @classmethod
    def for_model(cls, path: Path, session) -> DepthAdapter:
        """Defaults from the model's static input shape, then the sidecar JSON if present."""
        adapter = cls()
        shape = session.get_inputs()[0].shape
        if len(shape) == 4 and all(isinstance(d, int) for d in shape[2:]):
            adapter = replace(adapter, size=(shape[2], shape[3]))
        sidecar = Path(str(path) + ".json")
        if sidecar.is_file():
            try:
                fields = json.loads(sidecar.read_text())
                adapter = replace(adapter, **{k: tuple(v) if isinstance(v, list) else v
                                              for k, v in fields.items()})
            except (ValueError, TypeError, AttributeError) as exc:
                raise LivebokehError(f"bad depth adapter file {sidecar}: {exc}") from None
        if adapter.output not in ("inverse", "depth"):
            raise LivebokehError(f"depth adapter output must be inverse or depth: {sidecar}")
        return adapter


TCMONODEPTH_SMALL = DepthAdapter()


def normalise(inverse: np.ndarray, bounds: tuple[float, float] | None = None):
    """Map inverse depth to 0..1 by percentiles; returns (normalised, (low, high))."""
    if bounds is None:
        low, high = np.percentile(inverse, (LOW_PERCENTILE, HIGH_PERCENTILE))
        bounds = (float(low), float(high))
    low, high = bounds
    out = (inverse - np.float32(low)) * np.float32(1.0 / max(high - low, 1e-6))
    return np.clip(out, 0.0, 1.0, out=out), bounds


def to_inverse(values: np.ndarray, kind: str) -> np.ndarray:
    """Inverse depth (float32) from depth or inverse depth.

    Invalid pixels (NaN, inf; for depth also 0 and negative: "no measurement") become the
    farthest valid value, not 0, so they do not stretch the percentile normalisation.
    """
    if kind not in ("inverse", "depth"):
        raise LivebokehError(f"depth kind must be 'depth' or 'inverse', got '{kind}'")
    values = values.astype(np.float32, copy=False)
    valid = np.isfinite(values)
    if kind == "depth":
        valid &= values > 0
        inverse = np.zeros_like(values)
        np.divide(1.0, values, out=inverse, where=valid)
    else:
        inverse = values.copy() if valid.all() else np.where(valid, values, 0).astype(np.float32)
    if not valid.any():
        extra = ", zero or negative" if kind == "depth" else ""
        raise LivebokehError(f"no usable depth values (all NaN or infinite{extra})")
    if not valid.all():
        inverse[~valid] = inverse[valid].min()
    return inverse


def downscale(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """Area-averaged ``rgb`` at width x height pixels, fast at any ratio.

    cv2's INTER_AREA is slow at non-integer ratios (720p → 320x192: 2.5 ms; 1080p: 5.6 ms);
    a bilinear step to twice the target first, then an exact 2x area step: 0.5 ms.
    """
    if rgb.shape[1] > 2 * width and rgb.shape[0] > 2 * height:
        rgb = cv2.resize(rgb, (2 * width, 2 * height), interpolation=cv2.INTER_LINEAR)
    return cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)


class DepthEstimator:
    """Relative inverse depth of RGB frames with an ONNX model (CPU, ONNX Runtime)."""

    def __init__(self, model_path=None, adapter: DepthAdapter | None = None):
        import onnxruntime as ort

        resolved = resolve_model("depth", model_path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = ONNX_THREADS
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(resolved.path), options,
                                                providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors on bad files
            raise LivebokehError(f"cannot load depth model {resolved.path}: {exc}") from None
        self.adapter = adapter or DepthAdapter.for_model(resolved.path, self.session)
        self.input_name = self.session.get_inputs()[0].name
        h, w = self.adapter.size
        self._input = np.empty((1, 3, h, w), np.float32)
        self._scale = np.float32(self.adapter.scale) / np.asarray(self.adapter.std, np.float32)
        self._offset = np.asarray(self.adapter.mean, np.float32) / np.asarray(
            self.adapter.std, np.float32)

    def raw(self, rgb: np.ndarray) -> np.ndarray:
        """The model's inverse depth at its output resolution (float32, arbitrary scale)."""
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise LivebokehError(f"depth needs an RGB uint8 HxWx3 frame, got {rgb.dtype} "
                                 f"{'x'.join(map(str, rgb.shape))}")
        h, w = self.adapter.size
        small = downscale(rgb, w, h)
        if self.adapter.bgr:
            small = small[..., ::-1]
        for c in range(3):
            np.multiply(small[..., c], self._scale[c], out=self._input[0, c], dtype=np.float32)
            self._input[0, c] -= self._offset[c]
        try:
            output = np.squeeze(self.session.run(None, {self.input_name: self._input})[0])
        except Exception as exc:  # onnxruntime's own error types: a wrong adapter
            raise LivebokehError(f"depth model rejected its {w}x{h} input (check the adapter "
                                 f"size/layout): {str(exc).splitlines()[0]}") from None
        if output.ndim != 2:
            raise LivebokehError(f"depth model output has shape {output.shape}, not HxW")
        return to_inverse(output, self.adapter.output)

    def estimate(self, rgb: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
        """Normalised inverse depth (0..1, 1 = nearest) at ``size`` (w, h) or frame size."""
        normalised, _ = normalise(self.raw(rgb))
        size = size or (rgb.shape[1], rgb.shape[0])
        return cv2.resize(normalised, size, interpolation=cv2.INTER_LINEAR)


def open_depth_estimator(model_path=None) -> DepthEstimator | None:
    """A depth estimator, or None when no depth model is installed (and none was given)."""
    if model_path is None and find_model("depth") is None:
        return None
    return DepthEstimator(model_path)


class AsyncDepth:
    """Depth for a stream: the model runs every ``every`` frames on a worker thread.

    ``update(rgb)`` hands the frame to the worker when a new estimate is due and the worker is
    idle (a one-slot mailbox: never a queue) and returns at once with the latest smoothed map
    (model resolution, normalised 0..1). Only the first call waits, so the first frame has
    depth. Maps and their percentile bounds are smoothed by an EMA (``DEPTH_SMOOTHING``).
    Returned maps are never written to afterwards, so the caller may keep them. An error in
    the worker (a bad frame) is raised by the next ``update``. Use ``with`` or ``close()``.
    """

    def __init__(self, estimator: DepthEstimator, every: int = DEPTH_EVERY):
        self.estimator, self.every = estimator, max(1, every)
        self._frame = 0
        self._bounds: tuple[float, float] | None = None
        self._latest: np.ndarray | None = None
        self._pending: np.ndarray | None = None
        self._mailbox: np.ndarray | None = None  # reused frame copy the worker reads
        self._error: Exception | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._stop = False
        self.updates = 0
        self._thread = threading.Thread(target=self._work, name="livebokeh-depth", daemon=True)
        self._thread.start()

    def __enter__(self) -> AsyncDepth:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._stop = True
        self._wake.set()
        self._thread.join(timeout=5)

    def _work(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._stop:
                return
            with self._lock:
                frame, self._pending = self._pending, None
            if frame is not None:
                try:
                    self._integrate(self.estimator.raw(frame))
                except Exception as exc:  # raised in the frame loop by update()
                    self._error = exc
            self._idle.set()

    def _integrate(self, inverse: np.ndarray) -> None:
        low, high = np.percentile(inverse, (LOW_PERCENTILE, HIGH_PERCENTILE))
        if self._bounds is not None:
            k = DEPTH_SMOOTHING
            low = (1 - k) * self._bounds[0] + k * low
            high = (1 - k) * self._bounds[1] + k * high
        self._bounds = (float(low), float(high))
        normalised, _ = normalise(inverse, self._bounds)
        with self._lock:
            if self._latest is None:
                self._latest = normalised
            else:
                self._latest = self._latest + DEPTH_SMOOTHING * (normalised - self._latest)
            self.updates += 1

    def update(self, rgb: np.ndarray) -> np.ndarray:
        """Latest smoothed depth (model resolution, 0..1); schedules a new estimate if due."""
        if not self._thread.is_alive():
            raise RuntimeError("AsyncDepth is closed")
        due = self._frame % self.every == 0
        self._frame += 1
        if due and self._idle.is_set():  # the worker is not reading the mailbox now
            self._idle.clear()
            if self._mailbox is None or self._mailbox.shape != rgb.shape:
                self._mailbox = np.empty_like(rgb)
            np.copyto(self._mailbox, rgb)
            with self._lock:
                self._pending = self._mailbox
            self._wake.set()
        if self._latest is None:
            self._idle.wait()
        if self._error is not None:
            raise self._error
        with self._lock:
            return self._latest


def load_depth_map(path, kind: str = "inverse", size: tuple[int, int] | None = None):
    """Normalised inverse depth (0..1, float32) from a 16-bit PNG, float TIFF or .npy file.

    ``kind`` says what the file holds: "inverse" (disparity, larger = nearer, as phones and
    most models write) or "depth" (distance; 0/NaN/inf count as farthest).
    """
    values = read_depth_values(path)
    try:
        normalised, _ = normalise(to_inverse(values, kind))
    except LivebokehError as exc:
        raise LivebokehError(f"depth map {path}: {exc}") from None
    if size is not None and normalised.shape[::-1] != tuple(size):
        normalised = cv2.resize(normalised, size, interpolation=cv2.INTER_LINEAR)
    return normalised
