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

from livebokeh.atomic import atomic_output
from livebokeh.errors import LivebokehError
from livebokeh.models import find_model, resolve_model

LOW_PERCENTILE, HIGH_PERCENTILE = 2.0, 98.0
DEPTH_EVERY = 3  # frames between depth updates in video (model ~3-6 ms; depth changes slowly)
DEPTH_SMOOTHING = 0.5  # EMA weight of a new depth map (and of its percentile bounds)
ONNX_THREADS = 1  # the frame loop owns the other core; one thread keeps the model at ~5 ms


@dataclass(frozen=True)
class DepthAdapter:
    """How to feed an ONNX depth model and read its output.

    ``size`` (height, width) in pixels; ``bgr`` channel order; input = (pixel * scale -
    mean) / std per channel with pixel in 0..255; ``output`` "inverse" (disparity, larger =
    nearer) or "depth" (distance). A JSON sidecar ``<model>.json`` with these keys overrides
    the defaults for a model given by path.
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
            except (ValueError, TypeError) as exc:
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
    """Inverse depth (float32) from depth or inverse depth; invalid/zero depth → farthest."""
    values = values.astype(np.float32, copy=False)
    if kind == "inverse":
        return np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
    if kind != "depth":
        raise LivebokehError(f"depth kind must be 'depth' or 'inverse', got '{kind}'")
    valid = np.isfinite(values) & (values > 0)
    inverse = np.zeros_like(values)
    np.divide(1.0, values, out=inverse, where=valid)
    return inverse


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
        """The model's inverse depth at its own resolution (float32, arbitrary scale)."""
        h, w = self.adapter.size
        small = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)
        if self.adapter.bgr:
            small = small[..., ::-1]
        for c in range(3):
            np.multiply(small[..., c], self._scale[c], out=self._input[0, c], dtype=np.float32)
            self._input[0, c] -= self._offset[c]
        output = self.session.run(None, {self.input_name: self._input})[0]
        return to_inverse(np.squeeze(output).reshape(h, w), self.adapter.output)

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
    """

    def __init__(self, estimator: DepthEstimator, every: int = DEPTH_EVERY):
        self.estimator, self.every = estimator, max(1, every)
        self._frame = 0
        self._bounds: tuple[float, float] | None = None
        self._latest: np.ndarray | None = None
        self._pending: np.ndarray | None = None
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
                self._integrate(self.estimator.raw(frame))
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
        due = self._frame % self.every == 0
        self._frame += 1
        if due and self._idle.is_set():
            self._idle.clear()
            with self._lock:
                self._pending = rgb.copy()
            self._wake.set()
        if self._latest is None:
            self._idle.wait()
        with self._lock:
            return self._latest


def load_depth_map(path, kind: str = "inverse", size: tuple[int, int] | None = None):
    """Normalised inverse depth (0..1, float32) from a 16-bit PNG, float TIFF or .npy file.

    ``kind`` says what the file holds: "inverse" (disparity, larger = nearer, as phones and
    most models write) or "depth" (distance; 0/NaN/inf count as farthest).
    """
    path = Path(path)
    if not path.is_file():
        raise LivebokehError(f"depth map not found: {path}")
    if path.suffix.lower() == ".npy":
        try:
            values = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise LivebokehError(f"cannot read depth map {path}: {exc}") from None
    else:
        values = cv2.imread(str(path), cv2.IMREAD_UNCHANGED | cv2.IMREAD_ANYDEPTH)
        if values is None:
            raise LivebokehError(f"cannot read depth map {path} (use 16-bit PNG, TIFF or .npy)")
    if values.ndim == 3:
        values = values[..., 0]
    if values.ndim != 2:
        raise LivebokehError(f"depth map {path} must be a single-channel image")
    normalised, _ = normalise(to_inverse(values, kind))
    if size is not None and normalised.shape[::-1] != tuple(size):
        normalised = cv2.resize(normalised, size, interpolation=cv2.INTER_LINEAR)
    return normalised


def save_depth_png(path, inverse: np.ndarray) -> None:
    """Write normalised inverse depth (0..1) as a 16-bit PNG (65535 = nearest), atomically."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise LivebokehError(f"--save-depth writes a 16-bit PNG; use a .png name, not {path.name}")
    data = np.clip(inverse * 65535.0 + 0.5, 0, 65535).astype(np.uint16)
    with atomic_output(path) as tmp:
        if not cv2.imwrite(str(tmp), data):
            raise LivebokehError(f"cannot write {path}")
