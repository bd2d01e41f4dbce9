"""The live loop end to end: a real clip played as a camera → real BokehProcessor → the real
pyvirtualcam.Camera (recording backend standing in for v4l2loopback), reconnection with hold
frames, keys, clean shutdown on SIGTERM/Ctrl-C, and the real no-device error."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from clips import make_clip
from livebokeh.app.cli import main
from livebokeh.app.live import WARMUP_FRAMES, format_summary, run_live
from livebokeh.io.sinks import FrameSink, VirtualCameraSink
from livebokeh.io.sources import FileCameraSource
from livebokeh.settings import BokehSettings
from test_sinks import HAS_LOOPBACK

LIVEBOKEH = [sys.executable, "-m", "livebokeh"]


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """30 frames of the panned portrait, 320x180, 30 fps, H.264."""
    return make_clip(tmp_path_factory.mktemp("live") / "clip.mp4", frames=30, fps=30,
                     size=(320, 180), audio=None)


@pytest.fixture(scope="module")
def clip_frames(clip) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(clip))
    frames = []
    while (decoded := capture.read())[0]:
        frames.append(cv2.cvtColor(decoded[1], cv2.COLOR_BGR2RGB))
    return frames


def nearest_input(output: np.ndarray, inputs: list[np.ndarray]) -> tuple[float, np.ndarray]:
    """Mean absolute difference to the closest input frame, and that frame."""
    diffs = [np.abs(output.astype(np.int16) - f).mean() for f in inputs]
    best = int(np.argmin(diffs))
    return diffs[best], inputs[best]


def sharpness(rgb: np.ndarray) -> float:
    return float(cv2.Laplacian(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), cv2.CV_32F).var())


def test_cam_cli_sends_blurred_rgb_frames_to_the_virtual_camera(clip, clip_frames, tmp_path,
                                                                  recording_backend):
    summary_path = tmp_path / "summary.json"
    result = CliRunner().invoke(main, ["cam", "--camera", str(clip), "--vcam-backend",
                                       "recording", "--stats", "--strength", "60",
                                       "--json-summary", str(summary_path)])
    assert result.exit_code == 0, result.output
    [backend] = recording_backend.instances
    assert backend.closed and (backend.width, backend.height, backend.fps) == (320, 180, 30)
    summary = json.loads(summary_path.read_text())
    # the file ended: every frame it produced was either processed or counted as skipped
    assert summary["frames_produced"] == 30
    assert summary["frames"] + summary["frames_skipped"] == 30
    assert len(backend.frames) == summary["frames"] + summary["hold_frames"] >= 10
    for output in backend.frames:
        assert output.shape == (180, 320, 3) and output.dtype == np.uint8
        distance, source = nearest_input(output, clip_frames)
        assert distance > 2.0  # the background was blurred...
        assert sharpness(output) < 0.5 * sharpness(source)
        swapped, _ = nearest_input(output[..., ::-1], clip_frames)
        assert distance < swapped  # ...and sent as RGB, not BGR
    assert summary["style"] == "gaussian" and summary["strength"] == 60
    assert summary["latency_ms"]["median"] > 0 and set(summary["stages_ms"]) >= {"render"}
    assert "-> virtual camera recording0 (recording)" in result.stderr
    assert "summary: " in result.stderr and "latency median" in result.stderr


class KeyboardSink(FrameSink):
    """Stands in for the preview window (no display here): presses ``keys[n]`` at frame n."""

    def __init__(self, keys: dict[int, str]):
        self.keys = keys
        self.frames: list[np.ndarray] = []

    def send(self, frame: np.ndarray) -> int:
        self.frames.append(frame.copy())
        key = self.keys.get(len(self.frames))
        return ord(key) if key else -1


def test_keys_change_the_running_loop(clip, clip_frames):
    sink = KeyboardSink({3: "b", 6: "b", 7: "s", 12: "q"})
    lines: list[str] = []
    with FileCameraSource(clip, loop=True, fps=15) as source:
        summary = run_live(source, [sink], BokehSettings(strength=60), log=lines.append)
    assert summary["frames"] == 12 and len(sink.frames) == 12  # q ends the loop
    exact = [nearest_input(f, clip_frames)[0] == 0 for f in sink.frames]
    assert exact == [False] * 3 + [True] * 3 + [False] * 6  # b turns blur off, b on again
    assert summary["style"] == "lens"  # s: gaussian → lens
    assert any(line.startswith("style lens") for line in lines)


@pytest.mark.parametrize("threads", [1, 2])
def test_every_frame_of_a_file_is_sent_or_counted_as_skipped(clip, threads):
    """A file paced at 240 fps ends while the last frame may still be perceived on the
    worker (its wait for a frame is 1/240 s): that frame must still be finished and sent."""
    sink = KeyboardSink({})
    with FileCameraSource(clip, fps=240) as source:
        summary = run_live(source, [sink], BokehSettings(), log=lambda line: None,
                           threads=threads)
    assert summary["frames_produced"] == 30
    assert summary["frames"] + summary["frames_skipped"] == 30, summary
    assert len(sink.frames) == summary["frames"]


def test_a_run_that_ends_at_the_warm_up_reports_no_steady_rate(clip):
    """The 30-frame clip played once ends exactly at the warm-up: no 'after warm-up 0.0 fps'."""
    with FileCameraSource(clip, fps=30) as source:
        summary = run_live(source, [KeyboardSink({})], BokehSettings(), log=lambda line: None)
    assert summary["frames"] <= WARMUP_FRAMES and summary["after_warmup"] is None
    assert "after warm-up" not in format_summary(summary)


def test_the_summary_reports_the_cpu_the_run_used_after_warm_up(clip):
    """CPU use is the process's CPU time over wall time from the warm-up frame on: at most
    the cores' ceiling, and no more than the CPU the whole run used (the test's own count,
    over a longer span that includes model start-up)."""
    lines: list[str] = []
    started, cpu_before = time.monotonic(), time.process_time()
    with FileCameraSource(clip, loop=True, fps=60) as source:
        summary = run_live(source, [KeyboardSink({})], BokehSettings(), log=lines.append,
                           max_frames=WARMUP_FRAMES + 40, stats_every=0.2)
    cpu_used = time.process_time() - cpu_before
    steady = summary["after_warmup"]
    assert steady["cores"] >= 1 and 1.0 < steady["cpu_percent"] <= 105 * steady["cores"]
    seconds_after_warmup = (summary["frames"] - WARMUP_FRAMES) / steady["fps"]
    assert steady["cpu_percent"] / 100 * seconds_after_warmup <= cpu_used * 1.05
    assert seconds_after_warmup < time.monotonic() - started
    assert f"CPU {steady['cpu_percent']:.0f}% of {100 * steady['cores']}%" in format_summary(
        summary)
    assert any("| CPU " in line for line in lines)  # the per-window stats line has it too


def _rename_later(path: Path, target: Path, delay: float) -> threading.Timer:
    timer = threading.Timer(delay, path.rename, (target,))
    timer.start()
    return timer


def test_unplugged_camera_gets_hold_frames_then_resumes(clip, tmp_path, recording_backend):
    path, away = tmp_path / "camera.mp4", tmp_path / "unplugged.mp4"
    path.write_bytes(clip.read_bytes())
    lines: list[str] = []
    with FileCameraSource(path, loop=True, reconnect_s=0.1) as source:
        sink = VirtualCameraSink(source.width, source.height, source.fps, backend="recording")
        unplug = _rename_later(path, away, 0.2)  # the clip plays to its end (1 s), then fails
        replug = _rename_later(away, path, 2.0)
        try:
            summary = run_live(source, [sink], BokehSettings(), max_seconds=3.0,
                               log=lines.append)
        finally:
            unplug.join(), replug.join()
            sink.close()
    frames, times = recording_backend.instances[0].frames, recording_backend.instances[0].times
    assert summary["reconnects"] == 1 and summary["hold_frames"] >= 15
    assert any("disconnected" in line for line in lines)
    assert any("is back after" in line for line in lines)
    same = [np.array_equal(a, b) for a, b in zip(frames, frames[1:], strict=False)]
    longest, run, end = 0, 0, 0
    for i, equal in enumerate(same):
        run = run + 1 if equal else 0
        if run > longest:
            longest, end = run, i + 1
    assert longest >= 15  # the last output repeated while unplugged
    assert sum(1 for equal in same[end:] if not equal) >= 5  # new frames after re-plugging
    assert np.diff(times).max() < 0.5  # the virtual camera never starved


def _wait_for(process: subprocess.Popen, text: str, timeout: float = 30) -> str:
    seen = ""
    deadline = time.monotonic() + timeout
    while text not in seen and time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        seen += line
    return seen


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_cleanly_with_a_summary(clip, signum):
    process = subprocess.Popen(
        [*LIVEBOKEH, "cam", "--camera", str(clip), "--loop", "--no-vcam", "--stats"],
        stderr=subprocess.PIPE, text=True)
    try:
        seen = _wait_for(process, "fps |")  # the first stats line: the loop is running
        process.send_signal(signum)
        rest = process.communicate(timeout=20)[1]
    finally:
        process.kill()
    stderr = seen + rest
    assert process.returncode == 0, stderr
    assert "summary: " in stderr and "Traceback" not in stderr


@pytest.mark.skipif(not sys.platform.startswith("linux") or HAS_LOOPBACK,
                    reason="needs Linux without a v4l2loopback device")
def test_no_virtual_camera_device_is_a_clear_exit_2(clip):
    done = subprocess.run([*LIVEBOKEH, "cam", "--camera", str(clip)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1
    assert "No v4l2 loopback device found" in done.stderr
    assert ("sudo modprobe v4l2loopback devices=1 exclusive_caps=1 card_label=livebokeh"
            in done.stderr)


def test_options_that_do_not_apply_to_a_camera(clip):
    result = CliRunner().invoke(main, ["cam", "--camera", str(clip), "--no-vcam",
                                       "--background", "transparent"])
    assert result.exit_code == 1 and "a camera stream has none" in result.stderr
    result = CliRunner().invoke(main, ["cam", "--camera", str(clip), "--save-matte", "m.png"])
    assert result.exit_code == 2 and "No such option '--save-matte'" in result.stderr
    assert "--save-matte" not in CliRunner().invoke(main, ["cam", "--help"]).output


