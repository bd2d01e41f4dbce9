"""Where the lens focuses: the focal plane as a normalised inverse depth (0..1, 1 = nearest).

``--focus auto`` takes a robust statistic (median) of depth inside the subject's matte;
``face`` the median inside the face the shipped BlazeFace detector finds; ``X,Y`` (0..1
fractions of width and height) the median in a small window there; ``depth:D`` a given value.
"""

from __future__ import annotations

import cv2
import numpy as np

from livebokeh.models import resolve_model
from livebokeh.quiet import native_stderr_silenced
from livebokeh.settings import FocusSpec

FACE_LONG_SIDE = 320  # pixels: the detector sees 128x128 anyway
POINT_WINDOW = 0.03  # half-size of the window around a focus point, fraction of the image
SUBJECT_MATTE = 0.5  # matte above which a pixel belongs to the subject


class FaceFinder:
    """The largest face in an RGB frame with MediaPipe's BlazeFace (short range). Use ``with``."""

    def __init__(self, model_path=None):
        from mediapipe.tasks.python import BaseOptions, vision

        path = resolve_model("face", model_path).path
        options = vision.FaceDetectorOptions(base_options=BaseOptions(model_asset_path=str(path)),
                                             min_detection_confidence=0.5)
        with native_stderr_silenced():
            self._task = vision.FaceDetector.create_from_options(options)
        self._warmed = False

    def __enter__(self) -> FaceFinder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._task is not None:
            with native_stderr_silenced():  # TFLite logs its accelerator teardown
                self._task.close()
            self._task = None

    def find(self, rgb: np.ndarray) -> tuple[float, float, float, float] | None:
        """Box (x0, y0, x1, y1) in 0..1 fractions of the frame of the largest face, or None."""
        import mediapipe as mp

        height, width = rgb.shape[:2]
        scale = min(1.0, FACE_LONG_SIDE / max(height, width))
        small = cv2.resize(rgb, (max(1, round(width * scale)), max(1, round(height * scale))),
                           interpolation=cv2.INTER_AREA)
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=small)
        if not self._warmed:  # the first call logs a tensor-alignment warning on stderr
            with native_stderr_silenced():
                result = self._task.detect(image)
            self._warmed = True
        else:
            result = self._task.detect(image)
        boxes = [(d.bounding_box.origin_x, d.bounding_box.origin_y,
                  d.bounding_box.width, d.bounding_box.height) for d in result.detections]
        del result
        if not boxes:
            return None
        x, y, w, h = max(boxes, key=lambda b: b[2] * b[3])
        sh, sw = small.shape[:2]
        return (max(0.0, x / sw), max(0.0, y / sh), min(1.0, (x + w) / sw), min(1.0, (y + h) / sh))


def _median_in(depth: np.ndarray, box: tuple[float, float, float, float]) -> float:
    """Median of ``depth`` in ``box`` (x0, y0, x1, y1 fractions); at least one pixel."""
    h, w = depth.shape
    x0, y0 = min(int(box[0] * w), w - 1), min(int(box[1] * h), h - 1)
    x1, y1 = max(x0 + 1, int(np.ceil(box[2] * w))), max(y0 + 1, int(np.ceil(box[3] * h)))
    region = depth[y0:y1, x0:x1]
    return float(np.median(region))


def focal_depth(depth: np.ndarray, matte: np.ndarray | None, spec: FocusSpec,
                face_box: tuple[float, float, float, float] | None = None) -> float:
    """Focal plane in normalised inverse depth for ``spec`` (``depth`` and ``matte`` any size).

    Falls back from face to subject, and from an empty subject to the centre of the frame.
    """
    if spec.mode == "depth":
        return float(spec.depth)
    if spec.mode == "point":
        x, y = spec.point
        window = (x - POINT_WINDOW, y - POINT_WINDOW, x + POINT_WINDOW, y + POINT_WINDOW)
        return _median_in(depth, tuple(min(1.0, max(0.0, v)) for v in window))
    if spec.mode == "face" and face_box is not None:
        return _median_in(depth, face_box)
    if matte is not None:
        if matte.shape != depth.shape:
            matte = cv2.resize(matte, depth.shape[::-1], interpolation=cv2.INTER_AREA)
        inside = depth[matte > SUBJECT_MATTE]
        if inside.size:
            return float(np.median(inside))
    return _median_in(depth, (0.4, 0.4, 0.6, 0.6))
