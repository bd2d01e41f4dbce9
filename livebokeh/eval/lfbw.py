"""COMPARISON ONLY: Linux-Fake-Background-Webcam's per-frame work, re-implemented for timing.

Linux-Fake-Background-Webcam (LFBW, github.com/fangfufu/Linux-Fake-Background-Webcam,
``lfbw/lfbw.py``, the MediaPipe Tasks version) is a widely used peer. This module is our own
re-implementation of what its ``FakeCam.compose_frame`` does to one frame when the background
is the blurred camera picture (``--background no`` or ``--background no,blur=N``), with its
default options (``--threshold 75``, post-processing on, ``mask-update-speed`` 50, no
sigmoid, no opacity, no foreground overlay), written from reading its source (no code
copied), so that ``livebokeh bench`` can time it beside livebokeh on the same frames:

1. segmentation (``ImageSegmenter.segment``): the frame shrunk to 256 px wide (INTER_AREA),
   channel order swapped for the model (LFBW's frames are BGR), MediaPipe's selfie
   *landscape* model in IMAGE mode, its category mask (category 0 = person) as a float32
   0/1 mask, resized to the frame (INTER_LINEAR) and smoothed by a 7x7 Gaussian;
2. mask post-processing: a copy, threshold at 0.75 (binary), 5x5 dilation, 10x10 box blur,
   then an exponential moving average with the previous frame's mask (weight 0.5,
   ``cv2.accumulateWeighted``);
3. background: ``cv2.GaussianBlur`` of the whole frame, kernel ``k`` = the ``blur`` value
   made odd (21 when none is given) with sigma ``k / 3``; when ``blur=N`` is given, LFBW's
   background effects then blur it once more with its ``blur`` effect, kernel
   ``int(N / 100 * 99) + 1`` made odd, sigma 0 (OpenCV's default ``0.3 (k/2 - 1) + 0.8``);
4. ``cv2.blendLinear(frame, background, mask, 1 - mask)`` into the frame.

``effective_sigma`` gives the standard deviation of the resulting blur (the truncated kernels
convolved), which is what livebokeh is compared at: blur=21 → 6.2 px, blur=61 → 17.8 px
(the kernels alone, 21 and 61 with OpenCV's default sigma, would be 3.5 and 9.5 px).
The model file is livebokeh's shipped copy of the landscape selfie model (LFBW downloads
Google's ``selfie_segmenter_landscape.tflite``, the same 144x256 network).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from livebokeh.models import resolve_model
from livebokeh.quiet import native_stderr_silenced

MODEL_WIDTH = 256  # px: LFBW shrinks every frame to this width for the model
THRESHOLD = 0.75  # LFBW's default --threshold 75 (percent)
DILATE_KERNEL = np.ones((5, 5), np.uint8)
BOX = (10, 10)  # LFBW's post-processing box blur of the mask
MASK_SMOOTH_KSIZE = (7, 7)
MASK_UPDATE_SPEED = 0.5  # LFBW's default background mask-update-speed 50 (percent)
DEFAULT_KERNEL = 21  # LFBW's blur kernel when no blur value is given


def odd(number: int) -> int:
    """LFBW's ``getNextOddNumber``: an even number becomes the next odd one."""
    return number + 1 if number % 2 == 0 else number


def blur_kernels(blur: int | None) -> list[tuple[int, float]]:
    """The (kernel size, sigma) of each whole-frame ``GaussianBlur`` LFBW runs per frame.

    ``blur`` is the value of ``--background no,blur=N`` (None: ``--background no``); sigma 0
    means OpenCV's default for that kernel size.
    """
    size = odd(DEFAULT_KERNEL if blur is None else int(blur))
    kernels = [(size, size / 3.0)]
    if blur is not None and int(blur) > 0:
        kernels.append((odd(int(min(100, int(blur)) / 100 * 99) + 1), 0.0))
    return kernels


def effective_sigma(blur: int | None) -> float:
    """Standard deviation (px) of LFBW's whole background blur: its kernels convolved."""
    kernel = np.ones(1)
    for size, sigma in blur_kernels(blur):
        kernel = np.convolve(kernel, cv2.getGaussianKernel(size, sigma, cv2.CV_64F).ravel())
    x = np.arange(kernel.size) - (kernel.size - 1) / 2
    return math.sqrt(float((kernel * x * x).sum()))


@dataclass(frozen=True)
class LfbwSettings:
    """What ``livebokeh bench`` times: LFBW with ``--background no,blur=N`` (None: no blur=)."""

    blur: int | None = None

    @property
    def style(self) -> str:
        return f"lfbw-{self.blur if self.blur is not None else 'default'}"

    @property
    def strength(self) -> float:
        """Not a strength: the blur value, so bench tables can show it in that column."""
        return float(self.blur if self.blur is not None else DEFAULT_KERNEL)


@dataclass
class LfbwResult:
    """One LFBW frame: ``image`` uint8 HxWx3, ``matte`` float32 0..1, stage times in ms."""

    image: np.ndarray
    matte: np.ndarray
    timings_ms: dict[str, float] = field(default_factory=dict)


class LfbwProcessor:
    """LFBW's per-frame work with ``BokehProcessor``'s streaming interface, for timing.

    ``bgr=True`` takes frames in LFBW's channel order (OpenCV camera frames); with RGB
    frames the swap before the model is left out, so the model sees the right colours.
    The segmenter is opened on the first frame (untimed: its first call includes the
    model load, as LFBW's start-up does). Use ``with`` or ``close()``.
    """

    def __init__(self, settings: LfbwSettings | None = None, bgr: bool = False):
        self.settings = settings or LfbwSettings()
        self.bgr = bgr
        self.segmenter = None
        self.old_mask: np.ndarray | None = None

    def _open(self) -> None:
        from mediapipe.tasks.python import BaseOptions, vision

        options = vision.ImageSegmenterOptions(
            base_options=BaseOptions(model_asset_path=str(resolve_model("selfie-landscape").path)),
            output_category_mask=True)
        with native_stderr_silenced():
            self.segmenter = vision.ImageSegmenter.create_from_options(options)

    def segment(self, frame: np.ndarray) -> np.ndarray:
        """Step 1: the frame-size person mask (float32), as LFBW's ``ImageSegmenter``."""
        import mediapipe as mp

        if self.segmenter is None:
            self._open()
        height, width = frame.shape[:2]
        small = cv2.resize(frame, (MODEL_WIDTH, int(MODEL_WIDTH * height / width)),
                           interpolation=cv2.INTER_AREA)
        if self.bgr:
            small = cv2.cvtColor(small, cv2.COLOR_BGR2RGB)
        result = self.segmenter.segment(mp.Image(image_format=mp.ImageFormat.SRGB,
                                                 data=np.ascontiguousarray(small)))
        mask = (result.category_mask.numpy_view() == 0).astype(np.float32)
        del result
        mask = cv2.resize(mask, (width, height), interpolation=cv2.INTER_LINEAR)
        return cv2.GaussianBlur(mask, MASK_SMOOTH_KSIZE, 0)

    def postprocess(self, mask: np.ndarray) -> np.ndarray:
        """Step 2: threshold, dilate, box blur and the running average with the last mask."""
        mask = mask.copy()
        cv2.threshold(mask, THRESHOLD, 1, cv2.THRESH_BINARY, dst=mask)
        cv2.dilate(mask, DILATE_KERNEL, iterations=1, dst=mask)
        cv2.blur(mask, BOX, dst=mask)
        if self.old_mask is None or self.old_mask.shape != mask.shape:
            self.old_mask = mask
        return cv2.accumulateWeighted(mask, self.old_mask, MASK_UPDATE_SPEED)

    def background(self, frame: np.ndarray) -> np.ndarray:
        """Step 3: the whole frame blurred by each of ``blur_kernels``."""
        for size, sigma in blur_kernels(self.settings.blur):
            frame = cv2.GaussianBlur(frame, (size, size), sigma, borderType=cv2.BORDER_DEFAULT)
        return frame

    def process(self, frame: np.ndarray, timestamp_ms: int | None = None,
                out: np.ndarray | None = None) -> LfbwResult:
        """One frame, timed per stage (ms); ``out`` (else a new array) receives the image.

        ``timestamp_ms`` is ignored (LFBW runs the model in IMAGE mode).
        """
        t0 = time.perf_counter()
        mask = self.segment(frame)
        t1 = time.perf_counter()
        mask = self.postprocess(mask)
        t2 = time.perf_counter()
        background = self.background(frame)
        out = cv2.blendLinear(frame, background, mask, 1 - mask, dst=out)
        t3 = time.perf_counter()
        return LfbwResult(out, mask, {"segmentation": (t1 - t0) * 1e3,
                                      "matte": (t2 - t1) * 1e3, "render": (t3 - t2) * 1e3})

    def close(self) -> None:
        if self.segmenter is not None:
            self.segmenter.close()
            self.segmenter = None

    def __enter__(self) -> LfbwProcessor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def lfbw_video(input_path, output, settings: LfbwSettings | None = None, crf: int = 18) -> int:
    """LFBW's per-frame work in ``livebokeh video``'s own PyAV decode and encode, one by one.

    The same ``VideoReader`` / ``VideoWriter`` (audio kept, H.264 ``crf``), so a comparison
    of wall times compares the per-frame work and how it is scheduled, nothing else. Frames
    must have even sides. Returns the number of video frames written.
    """
    from livebokeh.io.video import VideoReader, VideoWriter

    frames = 0
    with VideoReader(input_path) as reader, LfbwProcessor(settings) as processor, \
            VideoWriter(output, reader, crf) as writer:
        for kind, item, pts in reader.packets():
            if kind == "audio":
                writer.write_audio(item)
                continue
            writer.write_frame(processor.process(item, out=item).image, pts)  # in place
            frames += 1
    return frames
