"""Sinks: the real pyvirtualcam Camera with a recording backend (no v4l2loopback here), the real
no-device error, the preview's key handling."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

from livebokeh.errors import LivebokehError
from livebokeh.io.sinks import (
    LINUX_SETUP,
    LiveControls,
    PreviewSink,
    VirtualCameraSink,
    handle_key,
    vcam_setup_hint,
)
from livebokeh.settings import STYLES

HAS_LOOPBACK = sys.platform.startswith("linux") and os.path.isdir("/sys/module/v4l2loopback")


@pytest.mark.skipif(not sys.platform.startswith("linux") or HAS_LOOPBACK,
                    reason="needs Linux without a v4l2loopback device")
def test_real_missing_loopback_error_becomes_setup_steps():
    with pytest.raises(LivebokehError) as info:
        VirtualCameraSink(320, 180, 30)
    message = str(info.value)
    assert info.value.exit_code == 2
    assert "No v4l2 loopback device found" in message  # pyvirtualcam's own reason, kept
    assert LINUX_SETUP in message
    assert "\n" not in message


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux device names")
def test_named_missing_device_is_clear():
    with pytest.raises(LivebokehError) as info:
        VirtualCameraSink(320, 180, 30, device="/dev/video97", backend="v4l2loopback")
    assert "/dev/video97" in str(info.value) and info.value.exit_code == 2


def test_unknown_backend_lists_available():
    with pytest.raises(LivebokehError, match="unknown virtual camera backend 'nope'"):
        VirtualCameraSink(320, 180, 30, backend="nope")


def test_setup_hints_per_platform():
    assert "modprobe v4l2loopback devices=1 exclusive_caps=1 card_label=livebokeh" in \
        vcam_setup_hint("linux")
    assert "OBS Studio" in vcam_setup_hint("win32")
    assert "OBS Studio" in vcam_setup_hint("darwin") and "macOS" in vcam_setup_hint("darwin")


def test_vcam_sends_rgb_frames_and_holds_at_fps(recording_backend):
    frame = np.random.default_rng(1).integers(0, 256, (180, 320, 3), dtype=np.uint8)
    sink = VirtualCameraSink(320, 180, 20, backend="recording")
    assert sink.description == "virtual camera recording0 (recording)"
    assert sink.send(frame) == -1
    for _ in range(5):
        sink.hold(frame)
    backend = recording_backend.instances[0]
    sink.close()
    assert backend.closed and len(backend.frames) == 6
    assert all(np.array_equal(f, frame) for f in backend.frames)
    # holds are paced at the camera's fps, not a busy loop: 5 of them take 5 frame times (on a
    # busy machine one may come late and the next ones catch up, so the total is what counts)
    assert backend.times[-1] - backend.times[0] > 0.8 * 5 / 20


def test_vcam_rejects_wrong_frame_size(recording_backend):
    sink = VirtualCameraSink(320, 180, 30, backend="recording")
    with pytest.raises(ValueError):
        sink.send(np.zeros((90, 160, 3), np.uint8))
    sink.close()


def test_preview_without_display_is_clear(monkeypatch):
    if not sys.platform.startswith("linux"):
        pytest.skip("display detection is by environment on Linux only")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(LivebokehError, match="--preview needs a display"):
        PreviewSink()


def test_keys_cycle_style_focus_and_clamp_strength():
    c = LiveControls(style=STYLES[0], strength=95.0)
    seen = [c.style]
    for _ in range(len(STYLES)):
        c = handle_key(ord("s"), c)
        seen.append(c.style)
    assert seen == [*STYLES, STYLES[0]]
    assert handle_key(ord("+"), c).strength == 100.0
    assert handle_key(ord("="), handle_key(ord("+"), c)).strength == 100.0
    low = LiveControls(strength=5.0)
    assert handle_key(ord("-"), low).strength == 0.0
    assert handle_key(ord("-"), LiveControls(strength=30.0)).strength == 20.0
    focus = [LiveControls().focus]
    for _ in range(3):
        focus.append(handle_key(ord("f"), LiveControls(focus=focus[-1])).focus)
    assert focus == ["auto", "face", "0.5,0.5", "auto"]


def test_keys_toggle_blur_quit_and_ignore_others():
    c = LiveControls()
    assert handle_key(ord("b"), c).blur is False
    assert handle_key(ord("b"), handle_key(ord("b"), c)).blur is True
    assert handle_key(ord("q"), c).quit and handle_key(27, c).quit
    assert handle_key(ord("Q"), c).quit
    assert handle_key(-1, c) == c and handle_key(ord("x"), c) == c and handle_key(300, c) == c
