"""Person segmentation with the MediaPipe selfie model (Tasks API ``ImageSegmenter``).

The segmenter is fed a frame already shrunk to the model's own resolution (long side 256):
the model sees 256x256 or 144x256 whatever we pass, so a full-size input would only make
MediaPipe resize and then upsample the mask for nothing. The returned mask is the person
confidence (0..1, float32) at that low resolution; ``matte.refine.MatteRefiner`` brings it to
frame size along the image's own edges.
"""

from __future__ import annotations

import os

import numpy as np

from livebokeh.heap import keep_frame_memory
from livebokeh.imgops import shrink_to
from livebokeh.models import resolve_model
from livebokeh.quiet import native_stderr_silenced

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SEGMENTER_LONG_SIDE = 256  # pixels: both selfie models take 256 on their long side
LANDSCAPE_MIN_ASPECT = 1.4  # width/height from which the 144x256 landscape model fits better
MODEL_CHOICES = ("auto", "general", "landscape")
MODEL_SIZE = {"selfie": (256, 256), "selfie-landscape": (256, 144)}  # (w, h) the models see


def choose_model(width: int, height: int, choice: str = "auto") -> str:
    """Registry name of the selfie model for a frame of this size (``auto``: by aspect ratio)."""
    if choice == "auto":
        choice = "landscape" if width / height >= LANDSCAPE_MIN_ASPECT else "general"
    return "selfie-landscape" if choice == "landscape" else "selfie"


def segmenter_size(width: int, height: int) -> tuple[int, int]:
    """(width, height) in pixels of the low-resolution image the segmenter is given."""
    scale = SEGMENTER_LONG_SIDE / max(width, height)
    return max(8, round(width * scale)), max(8, round(height * scale))


class PersonSegmenter:
    """Person confidence masks for RGB frames. Use as a context manager (or call ``close``).

    ``video=True`` runs MediaPipe's VIDEO mode, which tracks between frames and needs
    increasing timestamps; photos use IMAGE mode. ``model`` is ``auto``, ``general`` or
    ``landscape``; ``model_path`` overrides the packaged file.
    """

    def __init__(self, model: str = "auto", video: bool = False, model_path=None):
        if model not in MODEL_CHOICES:
            raise ValueError(f"model must be one of {MODEL_CHOICES}")
        self.model_choice = model
        self.video = video
        self.model_path = model_path
        self._tasks: dict[str, object] = {}
        self._last_ts = -1
        self._small: np.ndarray | None = None

    @property
    def last_input(self) -> np.ndarray:
        """The low-resolution RGB image the model last saw (reused buffer: copy to keep)."""
        return self._small

    def __enter__(self) -> PersonSegmenter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        for task in self._tasks.values():
            task.close()
        self._tasks.clear()

    def _task(self, model_name: str):
        """The MediaPipe task for ``model_name``, created once and kept until ``close``."""
        if model_name not in self._tasks:
            self._tasks[model_name] = self._open(model_name)
        return self._tasks[model_name]

    def _open(self, model_name: str):
        from mediapipe.tasks.python import BaseOptions, vision

        path = resolve_model(model_name, self.model_path).path
        mode = vision.RunningMode.VIDEO if self.video else vision.RunningMode.IMAGE
        options = vision.ImageSegmenterOptions(
            base_options=BaseOptions(model_asset_path=str(path)),
            running_mode=mode, output_confidence_masks=True, output_category_mask=False,
        )
        with native_stderr_silenced():
            task = vision.ImageSegmenter.create_from_options(options)
        keep_frame_memory()  # MediaPipe leaves glibc trimming each frame's arrays (heap.py)
        return task

    def segment(self, rgb: np.ndarray, timestamp_ms: int | None = None) -> np.ndarray:
        """Person confidence (HxW float32, 0..1) at ``segmenter_size`` of an RGB uint8 frame."""
        height, width = rgb.shape[:2]
        size = segmenter_size(width, height)
        if self._small is None or self._small.shape[1::-1] != size:
            self._small = np.empty((size[1], size[0], 3), np.uint8)
        shrink_to(rgb, size, dst=self._small)
        return self.segment_small(self._small, choose_model(width, height, self.model_choice),
                                  timestamp_ms)

    def segment_small(self, small: np.ndarray, model_name: str,
                      timestamp_ms: int | None = None) -> np.ndarray:
        """Person confidence of an RGB uint8 image already at the model's size (``MODEL_SIZE``).

        The mask is copied out of MediaPipe's result before it is released: the result's
        ``numpy_view`` is a view into native memory that dies with it.
        """
        import mediapipe as mp

        task = self._task(model_name)
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(small))
        if self.video:
            ts = self._last_ts + 1 if timestamp_ms is None else max(timestamp_ms, self._last_ts + 1)
            self._last_ts = ts
            result = task.segment_for_video(image, ts)
        else:
            result = task.segment(image)
        mask = np.array(result.confidence_masks[0].numpy_view(), dtype=np.float32, copy=True)
        del result
        return mask.reshape(small.shape[:2])
