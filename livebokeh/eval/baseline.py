"""COMPARISON BASELINE ONLY — "the common way" to blur a background; not used by the product.

livebokeh's evaluation (scripts/evaluate.py) and ``livebokeh bench --baseline`` measure
livebokeh against this. It is what most background-blur code does, written plainly:

1. MediaPipe selfie segmentation (Tasks API ``ImageSegmenter``, the packaged model from
   ``models.resolve_model``; IMAGE mode for photos, VIDEO mode for frames), given the whole
   frame, so MediaPipe returns the confidence mask at frame size;
2. threshold at 0.5, then a tiny feather: ``cv2.GaussianBlur`` of the 0/1 mask with a
   ``FEATHER_KSIZE`` x ``FEATHER_KSIZE`` kernel (sigma from OpenCV's default for that size,
   1.1 px) so the cut is not a hard staircase;
3. ``cv2.GaussianBlur`` of the WHOLE frame (subject included) with a square kernel;
4. alpha blend ``out = mask * frame + (1 - mask) * blurred`` with ``cv2.blendLinear``.

Kernel: chosen so the Gaussian matches livebokeh's at the same strength. livebokeh uses
sigma = ``render.blur_radius(strength, w, h) / 2``; a peer writes ``GaussianBlur(img, (k, k),
0)`` and OpenCV then uses sigma = 0.3 * ((k - 1) / 2 - 1) + 0.8, so k is the odd size whose
OpenCV sigma is nearest (``kernel_size``): 57 px at 1280x720 and 85 px at 1920x1080 for
strength 30. The segmentation model follows livebokeh's choice for the frame's aspect
(``segmentation.choose_model``: landscape model for wide frames), so speed differences come
from the pipeline, not the model.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from livebokeh.models import resolve_model
from livebokeh.perception.segmentation import choose_model
from livebokeh.quiet import native_stderr_silenced
from livebokeh.render.halo_free import blur_radius

THRESHOLD = 0.5  # confidence above which a pixel is "person"
FEATHER_KSIZE = 5  # px: Gaussian kernel size that softens the thresholded mask edge


def kernel_size(strength: float, width: int, height: int) -> int:
    """Odd Gaussian kernel size (px) whose OpenCV default sigma matches livebokeh's sigma."""
    sigma = blur_radius(strength, width, height) / 2.0
    half = max(1, round((sigma - 0.8) / 0.3 + 1))
    return 2 * half + 1


def open_segmenter(video: bool, width: int, height: int, model: str = "auto"):
    """A MediaPipe ``ImageSegmenter`` (confidence masks) for frames of this size. Close it."""
    from mediapipe.tasks.python import BaseOptions, vision

    path = resolve_model(choose_model(width, height, model)).path
    mode = vision.RunningMode.VIDEO if video else vision.RunningMode.IMAGE
    options = vision.ImageSegmenterOptions(
        base_options=BaseOptions(model_asset_path=str(path)), running_mode=mode,
        output_confidence_masks=True, output_category_mask=False)
    with native_stderr_silenced():
        return vision.ImageSegmenter.create_from_options(options)


def confidence(rgb: np.ndarray, segmenter, timestamp_ms: int | None = None) -> np.ndarray:
    """MediaPipe's person confidence (float32 0..1) at frame size for an RGB uint8 frame."""
    import mediapipe as mp

    image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
    if timestamp_ms is None:
        result = segmenter.segment(image)
    else:
        result = segmenter.segment_for_video(image, timestamp_ms)
    mask = np.array(result.confidence_masks[0].numpy_view(), np.float32, copy=True)
    del result
    return mask.reshape(rgb.shape[:2])


def feathered_mask(conf: np.ndarray) -> np.ndarray:
    """Threshold at ``THRESHOLD`` and feather with a ``FEATHER_KSIZE`` Gaussian (float32 0..1)."""
    hard = (conf > THRESHOLD).astype(np.float32)
    return cv2.GaussianBlur(hard, (FEATHER_KSIZE, FEATHER_KSIZE), 0)


def blur_and_blend(rgb: np.ndarray, mask: np.ndarray, strength: float = 30.0,
                   out: np.ndarray | None = None) -> np.ndarray:
    """Blur the whole RGB frame with a large Gaussian, then blend the sharp subject over it."""
    k = kernel_size(strength, rgb.shape[1], rgb.shape[0])
    blurred = cv2.GaussianBlur(rgb, (k, k), 0)
    return cv2.blendLinear(rgb, blurred, mask, 1.0 - mask, dst=out)


@dataclass
class BaselineResult:
    """Output of one baseline frame: ``image`` RGB uint8, ``matte`` float32 0..1, stage ms."""

    image: np.ndarray
    matte: np.ndarray
    timings_ms: dict[str, float] = field(default_factory=dict)


def baseline_frame(rgb: np.ndarray, segmenter, strength: float = 30.0,
                   timestamp_ms: int | None = None,
                   out: np.ndarray | None = None) -> BaselineResult:
    """The whole naive pipeline on one RGB uint8 frame, timed per stage (ms).

    ``timestamp_ms`` is required for a VIDEO-mode segmenter and must increase; ``out``
    (optional, same shape as ``rgb``) receives the image.
    """
    t0 = time.perf_counter()
    conf = confidence(rgb, segmenter, timestamp_ms)
    t1 = time.perf_counter()
    mask = feathered_mask(conf)
    t2 = time.perf_counter()
    image = blur_and_blend(rgb, mask, strength, out)
    t3 = time.perf_counter()
    return BaselineResult(image, mask, {"segmentation": (t1 - t0) * 1e3,
                                        "matte": (t2 - t1) * 1e3, "render": (t3 - t2) * 1e3})


@dataclass(frozen=True)
class BaselineSettings:
    """What ``livebokeh bench --baseline`` times: the baseline at one strength (0..100)."""

    strength: float = 30.0
    style: str = "baseline"


class BaselineProcessor:
    """The baseline with ``BokehProcessor``'s streaming interface (VIDEO mode), for bench.

    The segmenter is opened on the first frame (the model choice depends on its size).
    """

    def __init__(self, settings: BaselineSettings | None = None):
        self.settings = settings or BaselineSettings()
        self.segmenter = None
        self._last_ts = -1

    def process(self, rgb: np.ndarray, timestamp_ms: int | None = None,
                out: np.ndarray | None = None) -> BaselineResult:
        if self.segmenter is None:
            self.segmenter = open_segmenter(True, rgb.shape[1], rgb.shape[0])
        ts = self._last_ts + 1 if timestamp_ms is None else max(timestamp_ms, self._last_ts + 1)
        self._last_ts = ts
        return baseline_frame(rgb, self.segmenter, self.settings.strength, ts, out)

    def close(self) -> None:
        if self.segmenter is not None:
            self.segmenter.close()
            self.segmenter = None

    def __enter__(self) -> BaselineProcessor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
