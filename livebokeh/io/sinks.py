"""Where live frames go: a virtual camera (pyvirtualcam) and an optional preview window.

Every sink takes RGB uint8 HxWx3 frames. ``send`` returns the key pressed in a preview
window (or -1), so the loop, not the sink, owns the live controls; ``handle_key`` is the
pure mapping from a key to new controls.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass, replace

import cv2
import numpy as np

from livebokeh.errors import LivebokehError
from livebokeh.settings import STYLES

VCAM_EXIT_CODE = 2  # no virtual camera device: a set-up step is missing

LINUX_SETUP = (
    "sudo apt install v4l2loopback-dkms && "
    "sudo modprobe v4l2loopback devices=1 exclusive_caps=1 card_label=livebokeh"
)
OBS_SETUP = (
    "install OBS Studio (obsproject.com, 28 or newer) and start its Virtual Camera once "
    "(Start Virtual Camera, then Stop), then run livebokeh again"
)


def vcam_setup_hint(platform: str = sys.platform) -> str:
    """The set-up step that creates a virtual camera device on ``platform``."""
    if platform.startswith("linux"):
        return f"create one with: {LINUX_SETUP}"
    if platform == "darwin":
        return f"{OBS_SETUP}; on macOS 13+ allow its system extension when asked"
    return OBS_SETUP


class FrameSink:
    """A live output. ``send`` a processed frame, ``hold`` the last one while the camera
    is away, ``close`` at the end. ``send`` returns a key code from a window, or -1."""

    def send(self, frame: np.ndarray) -> int:
        raise NotImplementedError

    def hold(self, frame: np.ndarray) -> int:
        return self.send(frame)

    def close(self) -> None:
        """Release the output (idempotent)."""


class VirtualCameraSink(FrameSink):
    """A pyvirtualcam virtual camera receiving RGB frames of a fixed size.

    ``backend`` None tries every installed backend (v4l2loopback on Linux, OBS elsewhere);
    ``device`` None takes the first free device. No device → LivebokehError (exit code 2)
    with the set-up step for this platform.
    """

    def __init__(self, width: int, height: int, fps: float, device: str | None = None,
                 backend: str | None = None):
        import pyvirtualcam

        if backend is not None and backend not in pyvirtualcam.camera.BACKENDS:
            known = ", ".join(pyvirtualcam.camera.BACKENDS) or "none on this system"
            raise LivebokehError(f"unknown virtual camera backend '{backend}' "
                                 f"(available: {known})", VCAM_EXIT_CODE)
        try:
            self.camera = pyvirtualcam.Camera(width, height, fps, fmt=pyvirtualcam.PixelFormat.RGB,
                                              device=device, backend=backend)
        except RuntimeError as exc:
            reason = " / ".join(line.strip().rstrip(".") for line in str(exc).splitlines()
                                if line.strip())
            raise LivebokehError(
                f"no virtual camera: {reason or 'no backend for this system'}; "
                f"{vcam_setup_hint()} (or run without one: --no-vcam --preview)",
                VCAM_EXIT_CODE) from None
        self.width, self.height, self.fps = width, height, fps

    @property
    def description(self) -> str:
        return f"virtual camera {self.camera.device} ({self.camera.backend})"

    def send(self, frame: np.ndarray) -> int:
        """Send one frame; a device that fails (removed, driver gone) is a one-line error."""
        try:
            self.camera.send(frame)
        except (RuntimeError, OSError) as exc:
            device = self.camera.device
            self.close()
            raise LivebokehError(f"virtual camera {device} stopped taking frames: {exc}",
                                 VCAM_EXIT_CODE) from None
        return -1

    def hold(self, frame: np.ndarray) -> int:
        """Repeat ``frame`` no faster than the camera's fps (pyvirtualcam's own pacing)."""
        self.camera.sleep_until_next_frame()
        return self.send(frame)

    def close(self) -> None:
        """Close the device; one that already failed may fail again here, which is ignored."""
        camera, self.camera = self.camera, None
        if camera is not None:
            with contextlib.suppress(RuntimeError, OSError):
                camera.close()


def display_available() -> bool:
    """Whether a window can be opened (always true off Linux; X11 or Wayland on Linux)."""
    if not sys.platform.startswith("linux"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


class PreviewSink(FrameSink):
    """An OpenCV window showing the output; its keys steer the live controls (see KEYS)."""

    TITLE = "livebokeh (s style, +/- strength, f focus, b blur, q quit)"

    def __init__(self):
        if not display_available():
            raise LivebokehError("--preview needs a display (no DISPLAY or WAYLAND_DISPLAY "
                                 "is set); run without --preview", VCAM_EXIT_CODE)
        cv2.namedWindow(self.TITLE, cv2.WINDOW_NORMAL)
        self._bgr: np.ndarray | None = None
        self.description = "preview window"

    def send(self, frame: np.ndarray) -> int:
        if self._bgr is None or self._bgr.shape != frame.shape:
            self._bgr = np.empty_like(frame)
        cv2.cvtColor(frame, cv2.COLOR_RGB2BGR, dst=self._bgr)
        cv2.imshow(self.TITLE, self._bgr)
        key = cv2.waitKey(1)
        if cv2.getWindowProperty(self.TITLE, cv2.WND_PROP_VISIBLE) < 1:
            return ord("q")  # the window was closed
        return key & 0xFF if key >= 0 else -1

    def close(self) -> None:
        if self._bgr is not None:
            cv2.destroyWindow(self.TITLE)
            self._bgr = None


@dataclass(frozen=True)
class LiveControls:
    """What can change while the camera runs: style, strength 0..100, lens focus, blur on/off."""

    style: str = "gaussian"
    strength: float = 30.0
    focus: str = "auto"
    blur: bool = True
    quit: bool = False


FOCUS_MODES = ("auto", "face", "0.5,0.5")
STRENGTH_STEP = 10.0
ESC = 27


def _next(values: tuple, current) -> object:
    index = values.index(current) if current in values else -1
    return values[(index + 1) % len(values)]


def handle_key(key: int, controls: LiveControls) -> LiveControls:
    """New controls after ``key`` (an ASCII code, -1 for none); unknown keys change nothing.

    s: next style; + or =: strength +10; - or _: strength -10 (0..100); f: focus
    auto → face → centre; b: blur on/off; q or Esc: quit.
    """
    char = chr(key).lower() if 0 <= key < 256 else ""
    if char == "s":
        return replace(controls, style=_next(STYLES, controls.style))
    if char in ("+", "="):
        return replace(controls, strength=min(100.0, controls.strength + STRENGTH_STEP))
    if char in ("-", "_"):
        return replace(controls, strength=max(0.0, controls.strength - STRENGTH_STEP))
    if char == "f":
        return replace(controls, focus=_next(FOCUS_MODES, controls.focus))
    if char == "b":
        return replace(controls, blur=not controls.blur)
    if char == "q" or key == ESC:
        return replace(controls, quit=True)
    return controls
