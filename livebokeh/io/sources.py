"""Live frame sources: a webcam, or a video file / URL standing in for one.

A source decodes on its own thread and keeps only the newest frame: when the consumer is
slower than the camera, older frames are overwritten (and counted as skipped), never queued,
so latency cannot build up. Three RGB buffers rotate between the grabber and the consumer
(triple buffering), so no full-size buffer is allocated per frame.

When reads fail (camera unplugged, file gone) the source reports ``connected == False`` and
tries to reopen every ``reconnect_s`` seconds until the device returns. A device that is
missing or busy when the source is first opened is a ``LivebokehError`` instead.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

from livebokeh.errors import LivebokehError

DEFAULT_FPS = 30.0
MJPG_FROM = (1280, 720)  # ask cameras for MJPG from this size: raw YUYV at 720p caps at ~10 fps
DEVICE_EXIT_CODE = 2  # a camera that is missing or busy (same code as a missing virtual camera)


class Frame(NamedTuple):
    """A frame handed to the consumer: RGB uint8 HxWx3, valid until the next ``read``.

    ``capture_time`` is ``time.monotonic()`` seconds when the frame was grabbed (file
    sources: when it was due at real-time pace); ``index`` counts frames produced.
    """

    rgb: np.ndarray
    capture_time: float
    index: int


def parse_size(text: str) -> tuple[int, int]:
    """``"1280x720"`` → (1280, 720); LivebokehError for anything else or out of 16..8192."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise LivebokehError(f"'{text}' is not WIDTHxHEIGHT (e.g. 1280x720)") from None
    if not (16 <= width <= 8192 and 16 <= height <= 8192):
        raise LivebokehError(f"size '{text}' is outside 16..8192 pixels per side")
    return width, height


class FrameSource:
    """Newest-frame source: ``open()``, then ``read(timeout)`` until ``ended``; ``close()``.

    Subclasses implement ``_open_capture`` (return an opened ``cv2.VideoCapture`` or None),
    and may override ``_pace`` (wait before publishing) and ``_at_end`` (what EOF means).
    """

    def __init__(self, name: str, reconnect_s: float = 0.5):
        self.name = name
        self.reconnect_s = reconnect_s
        self.width = self.height = 0
        self.fps = DEFAULT_FPS
        self.connected = False
        self.ended = False  # no more frames will come (file without --loop)
        self.frames_produced = 0
        self.frames_skipped = 0  # produced but overwritten before the consumer read them
        self.reconnects = 0
        self._capture: cv2.VideoCapture | None = None
        self._slots: list[np.ndarray] = []  # [back, ready, front]
        self._bgr: np.ndarray | None = None
        self._fresh = False
        self._ready_time = 0.0
        self._ready_index = 0
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- consumer side -------------------------------------------------------------------

    def open(self) -> FrameSource:
        """Open the device and grab the first frame (so the size is known).

        The first ``read`` returns that frame; the grabber thread starts with the second,
        so a consumer warming up its models on the first frame does not make a file source
        skip its first half second.
        """
        self._capture = self._open_capture()
        if self._capture is None or not self._grab_one():
            self._release()
            raise self._open_error()
        self.connected = True
        return self

    def read(self, timeout: float) -> Frame | None:
        """The newest frame not yet returned, waiting up to ``timeout`` s; None if none came.

        The returned array is reused: it stays valid only until the next ``read``.
        """
        if self._thread is None and not self._fresh and not self._stop.is_set():
            self._restart()
            self._thread = threading.Thread(target=self._run, name=f"source {self.name}",
                                            daemon=True)
            self._thread.start()
        with self._cond:
            if not self._fresh:
                self._cond.wait_for(lambda: self._fresh or self.ended, timeout)
            if not self._fresh:
                return None
            self._slots[1], self._slots[2] = self._slots[2], self._slots[1]
            self._fresh = False
            return Frame(self._slots[2], self._ready_time, self._ready_index)

    def close(self) -> None:
        """Stop and join the grabber thread and release the device (idempotent)."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._release()

    def __enter__(self) -> FrameSource:
        """Open the source unless it is open already (``with open_source(...) as s`` works)."""
        return self if self._capture is not None else self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    # -- grabber thread ------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._capture is not None and self._grab_one():
                continue
            self._release()
            if self._at_end():
                continue
            self._reconnect()

    def _grab_one(self) -> bool:
        """Grab, decode and publish one frame; False when the device gave nothing."""
        if not self._capture.grab():
            return False
        grabbed_at = time.monotonic()
        ok, bgr = self._capture.retrieve(self._bgr)
        if not ok or bgr is None or bgr.ndim != 3:
            return False
        self._bgr = bgr
        back = self._frame_buffer(bgr)
        self._convert(bgr, back)
        capture_time = self._pace(grabbed_at)
        if capture_time is None:
            return True  # stopping
        self._publish(capture_time)
        return True

    def _frame_buffer(self, bgr: np.ndarray) -> np.ndarray:
        """The back buffer, (re)allocated only when the frame size changes."""
        height, width = self._output_size(bgr)
        if not self._slots or self._slots[0].shape[:2] != (height, width):
            with self._cond:
                self._slots = [np.empty((height, width, 3), np.uint8) for _ in range(3)]
                self._fresh = False
            self.width, self.height = width, height
        return self._slots[0]

    def _output_size(self, bgr: np.ndarray) -> tuple[int, int]:
        return bgr.shape[0], bgr.shape[1]

    def _convert(self, bgr: np.ndarray, rgb: np.ndarray) -> None:
        cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB, dst=rgb)

    def _publish(self, capture_time: float) -> None:
        with self._cond:
            self._slots[0], self._slots[1] = self._slots[1], self._slots[0]
            if self._fresh:
                self.frames_skipped += 1
            self.frames_produced += 1
            self._fresh = True
            self._ready_time = capture_time
            self._ready_index = self.frames_produced
            self._cond.notify_all()

    def _reconnect(self) -> None:
        """Reopen every ``reconnect_s`` until the device is back or the source is closed."""
        self.connected = False
        while not self._stop.wait(self.reconnect_s):
            capture = self._open_capture()
            if capture is not None:
                self._capture = capture
                self.connected = True
                self.reconnects += 1
                self._restart()
                return

    def _release(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None

    # -- subclass hooks ------------------------------------------------------------------

    def _open_capture(self) -> cv2.VideoCapture | None:
        raise NotImplementedError

    def _open_error(self) -> LivebokehError:
        return LivebokehError(f"cannot read from {self.name}", DEVICE_EXIT_CODE)

    def _pace(self, grabbed_at: float) -> float | None:
        """Capture time to stamp the frame with; None to drop it because we are stopping."""
        return grabbed_at

    def _at_end(self) -> bool:
        """Called when a read failed; True means handled (e.g. ended), False: reconnect."""
        return False

    def _restart(self) -> None:
        """Called when frames start to flow: grabber start and after a reconnect."""


def _opened(capture: cv2.VideoCapture) -> cv2.VideoCapture | None:
    if capture.isOpened():
        return capture
    capture.release()
    return None


class CameraSource(FrameSource):
    """A webcam by index (0, 1, ...) or device path (/dev/video2), via OpenCV.

    Linux uses the V4L2 backend; other systems the platform default. ``size`` (width,
    height) and ``fps`` are requests: the camera may choose another mode, and ``width``,
    ``height`` and ``fps`` report what it delivers. From 1280x720 up MJPG is requested,
    because most USB cameras deliver raw frames at only a few fps at those sizes.
    """

    def __init__(self, device: int | str, size: tuple[int, int] | None = None,
                 fps: float | None = None, reconnect_s: float = 0.5):
        super().__init__(f"camera {device}", reconnect_s)
        self.device = device
        self.requested_size = size
        self.requested_fps = fps

    def _device_path(self) -> Path:
        return Path(f"/dev/video{self.device}" if isinstance(self.device, int) else self.device)

    def _open_capture(self) -> cv2.VideoCapture | None:
        linux = sys.platform.startswith("linux")
        if linux and not self._device_path().exists():
            return None  # unplugged: retry quietly (OpenCV would log a warning every time)
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
        capture = _opened(cv2.VideoCapture(self.device, cv2.CAP_V4L2 if linux else cv2.CAP_ANY))
        if capture is None:
            return None
        if self.requested_size is not None:
            width, height = self.requested_size
            if width * height >= MJPG_FROM[0] * MJPG_FROM[1]:
                capture.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*"MJPG"))
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        if self.requested_fps is not None:
            capture.set(cv2.CAP_PROP_FPS, self.requested_fps)
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # fewer driver buffers: less latency
        reported = capture.get(cv2.CAP_PROP_FPS)
        self.fps = reported if 1 <= reported <= 240 else (self.requested_fps or DEFAULT_FPS)
        return capture

    def _open_error(self) -> LivebokehError:
        path = self._device_path()
        if sys.platform.startswith("linux") and not path.exists():
            found = sorted(str(p) for p in Path("/dev").glob("video*"))
            return LivebokehError(
                f"no camera at {path} (video devices: {', '.join(found) or 'none'}); "
                f"plug one in or pick another with --camera (see 'livebokeh doctor')",
                DEVICE_EXIT_CODE)
        return LivebokehError(
            f"{self.name} could not be opened or gave no frame: it may be in use by another "
            f"program, not a capture device, or blocked by camera permissions "
            f"(see 'livebokeh doctor')", DEVICE_EXIT_CODE)


class FileCameraSource(FrameSource):
    """A video file or stream URL played like a camera: real-time pace, newest frame only.

    Frames are released at the file's frame rate (or ``fps``) whatever the consumer does,
    so a slow consumer skips frames exactly as with a webcam. ``loop`` starts again at the
    end; without it the source ends. ``size`` resizes frames (to test camera sizes with
    any clip). A file that disappears is retried every ``reconnect_s`` like an unplugged
    camera.
    """

    def __init__(self, path: str | os.PathLike, loop: bool = False,
                 size: tuple[int, int] | None = None, fps: float | None = None,
                 reconnect_s: float = 0.5):
        super().__init__(str(path), reconnect_s)
        self.path = str(path)
        self.loop = loop
        self.size = size
        self.requested_fps = fps
        self._clock_start: float | None = None
        self._clock_frames = 0
        self._resized: np.ndarray | None = None

    def _open_capture(self) -> cv2.VideoCapture | None:
        if "://" not in self.path and not Path(self.path).is_file():
            return None
        capture = _opened(cv2.VideoCapture(self.path))
        if capture is not None:
            reported = capture.get(cv2.CAP_PROP_FPS)
            native = reported if 1 <= reported <= 240 else DEFAULT_FPS
            self.fps = self.requested_fps or native
        return capture

    def _open_error(self) -> LivebokehError:
        if "://" not in self.path and not Path(self.path).exists():
            return LivebokehError(f"no camera or video file '{self.path}'")
        return LivebokehError(f"cannot decode a video frame from '{self.path}'")

    def _output_size(self, bgr: np.ndarray) -> tuple[int, int]:
        if self.size is None:
            return bgr.shape[0], bgr.shape[1]
        return self.size[1], self.size[0]

    def _convert(self, bgr: np.ndarray, rgb: np.ndarray) -> None:
        if self.size is not None and bgr.shape[:2] != rgb.shape[:2]:
            if self._resized is None or self._resized.shape != rgb.shape:
                self._resized = np.empty_like(rgb)
            bgr = cv2.resize(bgr, self.size, dst=self._resized, interpolation=cv2.INTER_AREA)
        cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB, dst=rgb)

    def _pace(self, grabbed_at: float) -> float | None:
        """Hold the frame until its slot at ``fps``; restart the clock after falling behind."""
        if self._clock_start is None:
            self._clock_start, self._clock_frames = grabbed_at, 0
        due = self._clock_start + self._clock_frames / self.fps
        self._clock_frames += 1
        now = time.monotonic()
        if due > now:
            if self._stop.wait(due - now):
                return None
            return due
        if now - due > 1.0:  # decoding stalled (slow disk, network): do not rush to catch up
            self._clock_start, self._clock_frames = now, 1
        return now

    def _at_end(self) -> bool:
        if self.loop:
            return False  # reopen at once (and retry if the file went away)
        with self._cond:
            self.ended = True
            self._cond.notify_all()
        self._stop.wait()
        return True

    def _reconnect(self) -> None:
        capture = self._open_capture() if self.loop else None
        if capture is not None:
            self._capture = capture  # plain loop restart: not a reconnection
            return
        super()._reconnect()

    def _restart(self) -> None:
        self._clock_start = None  # pace from now, not from before the gap


def open_source(spec: str, size: tuple[int, int] | None = None, fps: float | None = None,
                loop: bool = False, reconnect_s: float = 0.5) -> FrameSource:
    """The source for ``--camera``: an index or /dev path is a webcam, anything else a file.

    Returns an opened source; LivebokehError when it cannot deliver a first frame.
    """
    spec = spec.strip()
    if spec.isdigit():
        source: FrameSource = CameraSource(int(spec), size, fps, reconnect_s)
    elif spec.startswith("/dev/"):
        source = CameraSource(spec, size, fps, reconnect_s)
    else:
        source = FileCameraSource(spec, loop=loop, size=size, fps=fps, reconnect_s=reconnect_s)
    return source.open()
