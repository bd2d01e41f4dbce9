"""Frame sources on real clips: newest-frame only, real-time pace, loop, resize, reconnection,
and clear errors for missing or unusable cameras."""

from __future__ import annotations

import sys
import time

import cv2
import numpy as np
import pytest

from clips import make_clip
from livebokeh.errors import LivebokehError
from livebokeh.io.sources import FileCameraSource, open_source, parse_size

FPS = 30


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """30 frames of the panned portrait, 320x180, 30 fps, H.264."""
    return make_clip(tmp_path_factory.mktemp("src") / "clip.mp4", frames=30, fps=FPS,
                     size=(320, 180), audio=None)


def decoded_frames(path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, bgr = capture.read()
        if not ok:
            return frames
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


def test_file_source_gives_rgb_frames_at_real_time_pace(clip):
    reference = decoded_frames(clip)
    with FileCameraSource(clip) as source:
        assert (source.width, source.height, source.fps) == (320, 180, FPS)
        start = time.monotonic()
        frames = []
        while (frame := source.read(timeout=1.0)) is not None:
            frames.append((frame.rgb.copy(), frame.capture_time, frame.index))
        elapsed = time.monotonic() - start
        assert source.ended and source.frames_skipped == 0
    assert len(frames) == len(reference) == 30
    assert all(np.array_equal(got, ref) for (got, _, _), ref in zip(frames, reference, strict=True))
    assert [index for _, _, index in frames] == list(range(1, 31))
    assert elapsed > 0.8 * 29 / FPS  # paced like a camera, not decoded as fast as possible
    gaps = np.diff([t for _, t, _ in frames])
    assert abs(np.median(gaps) - 1 / FPS) < 0.01


def test_slow_consumer_gets_newest_frame_and_skips_are_counted(clip):
    with FileCameraSource(clip, loop=True) as source:
        source.read(timeout=1.0)  # the opening frame; the grabber starts with the next read
        first = source.read(timeout=1.0)
        time.sleep(0.5)
        newest = source.read(timeout=1.0)
        assert newest.index - first.index >= 10  # jumped to the newest, no backlog
        assert time.monotonic() - newest.capture_time < 2 / FPS
        assert source.frames_skipped == newest.index - first.index - 1
        assert source.frames_produced >= newest.index


def test_loop_restarts_without_counting_a_reconnect(clip):
    with FileCameraSource(clip, loop=True, fps=120) as source:
        indices = []
        deadline = time.monotonic() + 5
        while len(indices) < 45 and time.monotonic() < deadline:
            frame = source.read(timeout=1.0)
            if frame is not None:
                indices.append(frame.index)
        assert len(indices) == 45 and not source.ended
        assert source.reconnects == 0 and source.connected


def test_size_resizes_frames(clip):
    with FileCameraSource(clip, size=(160, 96)) as source:
        frame = source.read(timeout=1.0)
        assert frame.rgb.shape == (96, 160, 3) and (source.width, source.height) == (160, 96)


def test_file_removed_mid_stream_reconnects_when_it_returns(clip, tmp_path):
    path = tmp_path / "cam.mp4"
    path.write_bytes(clip.read_bytes())
    gone = tmp_path / "unplugged.mp4"
    with FileCameraSource(path, loop=True, fps=60, reconnect_s=0.1) as source:
        path.rename(gone)  # the open capture plays to its end, then reopening fails
        deadline = time.monotonic() + 3
        while source.connected and time.monotonic() < deadline:
            source.read(timeout=0.1)
        assert not source.connected
        assert source.read(timeout=0.3) is None  # nothing new while unplugged
        gone.rename(path)
        frame = source.read(timeout=2.0)
        assert frame is not None and source.connected and source.reconnects == 1
        thread = source._thread
    assert not thread.is_alive()  # close() joined the grabber


def test_close_joins_thread_promptly(clip):
    source = FileCameraSource(clip, loop=True).open()
    assert source.read(timeout=1.0).index == 1 and source._thread is None  # opening frame
    assert source.read(timeout=1.0).index == 2  # the grabber runs from the second read
    thread = source._thread
    start = time.monotonic()
    source.close()
    assert not thread.is_alive() and time.monotonic() - start < 1.0
    assert source._capture is None  # released


def test_missing_file_is_exit_code_1(tmp_path):
    with pytest.raises(LivebokehError) as info:
        open_source(str(tmp_path / "none.mp4"))
    assert info.value.exit_code == 1 and "no camera or video file" in str(info.value)


def test_undecodable_file_is_clear(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video" * 100)
    with pytest.raises(LivebokehError, match="cannot decode a video frame"):
        open_source(str(bad))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux device paths")
def test_missing_camera_is_exit_code_2():
    with pytest.raises(LivebokehError) as info:
        open_source("99")
    assert info.value.exit_code == 2 and "no camera at /dev/video99" in str(info.value)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux device paths")
def test_device_that_is_not_a_camera_is_exit_code_2():
    with pytest.raises(LivebokehError) as info:
        open_source("/dev/null")  # exists, but V4L2 cannot capture from it (like a busy camera)
    assert info.value.exit_code == 2 and "in use by another program" in str(info.value)


def test_parse_size():
    assert parse_size("1280x720") == (1280, 720) and parse_size("640X480") == (640, 480)
    for bad in ("1280", "axb", "8x8", "100000x10"):
        with pytest.raises(LivebokehError):
            parse_size(bad)
