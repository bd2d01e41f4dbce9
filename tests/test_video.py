"""The video job on real files: clips written with PyAV from the panned portrait the repository
ships and a generated 440 Hz tone (tests/clips.py), processed with the real models, read back
with PyAV."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from clips import _write_tone, make_clip
from livebokeh.app.cli import main
from livebokeh.app.video import process_video
from livebokeh.io.video import VideoReader
from livebokeh.pipeline import BokehProcessor
from livebokeh.settings import BokehSettings

SMALL = (320, 180)
FPS = 25


def decode(path: Path, gray: bool = False) -> tuple[list[np.ndarray], list[float]]:
    """Every frame of ``path`` as stored (no rotation applied) and its time in seconds."""
    frames, times = [], []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            frames.append(frame.to_ndarray(format="gray" if gray else "rgb24"))
            times.append(float(frame.pts * frame.time_base))
    return frames, times


def audio_of(path: Path) -> tuple[av.audio.stream.AudioStream | None, float, int, float]:
    """Audio codec name, seconds, sample rate and RMS level of the first audio stream."""
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return None, 0.0, 0, 0.0
        stream = container.streams.audio[0]
        chunks = [f.to_ndarray().astype(np.float32).reshape(-1) for f in container.decode(stream)]
        name = stream.codec_context.codec.canonical_name
        samples = np.concatenate(chunks)
        if samples.dtype == np.float32 and name == "pcm_s16le":
            samples = samples / 32768.0
        seconds = samples.size / stream.codec_context.layout.nb_channels / stream.rate
        return name, seconds, stream.rate, float(np.sqrt(np.mean(samples**2)))


def reference_output(frames: list[np.ndarray], times: list[float], settings) -> list[np.ndarray]:
    """What the pipeline itself makes of the decoded input frames (same timestamps)."""
    with BokehProcessor(settings, video=True) as processor:
        return [processor.process(rgb, round(t * 1000)).image.copy()
                for rgb, t in zip(frames, times, strict=True)]


def mean_abs(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.abs(a.astype(np.int16) - b.astype(np.int16))))


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """20 frames at 25 fps, 320x180, AAC mono 44.1 kHz tone."""
    return make_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", frames=20, fps=FPS, size=SMALL)


@pytest.fixture(scope="module")
def processed(clip, tmp_path_factory) -> tuple[Path, Path]:
    """The clip through ``process_video`` (default settings), with --save-matte."""
    folder = tmp_path_factory.mktemp("processed")
    out, matte = folder / "out.mp4", folder / "matte.mp4"
    process_video(clip, out, BokehSettings(), save_matte=matte)
    return out, matte


def test_reader_reports_stream_facts(clip):
    with VideoReader(clip) as reader:
        assert reader.fps == FPS
        assert reader.frame_count == 20
        assert reader.duration == pytest.approx(20 / FPS, abs=1 / FPS)
        assert reader.size == SMALL
        assert reader.audio is not None and reader.audio.rate == 44100
        kinds = [kind for kind, _, _ in reader.packets()]
    assert kinds.count("video") == 20 and kinds.count("audio") > 10


def test_output_keeps_frames_timestamps_and_audio(clip, processed):
    out, _ = processed
    _, times_in = decode(clip)
    frames_out, times_out = decode(out)
    assert len(frames_out) == 20
    assert times_out == pytest.approx(times_in, abs=1e-3)
    with av.open(str(clip)) as a, av.open(str(out)) as b:
        assert b.duration == pytest.approx(a.duration, abs=1e6 / FPS)
        assert b.streams.video[0].codec_context.name == "h264"
        assert b.streams.video[0].codec_context.pix_fmt == "yuv420p"
        assert b.streams.video[0].codec_context.colorspace == 6  # tagged BT.601 below 720p
    name_in, seconds_in, rate_in, rms_in = audio_of(clip)
    name_out, seconds_out, rate_out, rms_out = audio_of(out)
    assert name_out == name_in == "aac"  # copied, not re-encoded
    assert rate_out == rate_in == 44100
    assert seconds_out == pytest.approx(seconds_in, abs=0.03)
    assert rms_out == pytest.approx(rms_in, rel=0.05) and rms_out > 0.1  # the tone, not silence


def test_mp4_output_is_faststart(processed):
    data = processed[0].read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")


def test_output_is_the_pipeline_result(clip, processed):
    frames_in, times_in = decode(clip)
    frames_out, _ = decode(processed[0])
    expected = reference_output(frames_in, times_in, BokehSettings())
    for got, want, original in zip(frames_out, expected, frames_in, strict=True):
        assert mean_abs(got, want) < 3.0  # H.264 at crf 18 (a plain re-encode differs by ~2.2)
        assert mean_abs(got, want) < mean_abs(got, original) / 2  # the blur is really there


def test_saved_matte_video_is_bright_on_the_person(clip, processed):
    _, matte = processed
    mattes, times = decode(matte, gray=True)
    _, times_in = decode(clip)
    assert len(mattes) == 20 and times == pytest.approx(times_in, abs=1e-3)
    first = mattes[0].astype(np.float32) / 255.0
    h, w = first.shape
    torso = first[int(0.8 * h):, int(0.4 * w):int(0.6 * w)]  # the sweater
    face = first[int(0.35 * h):int(0.55 * h), int(0.45 * w):int(0.55 * w)]
    window = first[: int(0.5 * h), : int(0.2 * w)]  # top left
    books = first[int(0.1 * h):int(0.7 * h), int(0.8 * w):]  # the shelves, right
    assert torso.mean() > 0.8 and face.mean() > 0.8
    assert window.mean() < 0.25 and books.mean() < 0.25
    with BokehProcessor(BokehSettings(), video=True) as processor:
        frames_in, _ = decode(clip)
        for got, rgb, t in zip(mattes, frames_in, times_in, strict=True):
            want = processor.process(rgb, round(t * 1000)).matte * 255
            assert mean_abs(got, want.round().astype(np.uint8)) < 2.0


def test_variable_frame_rate_keeps_exact_pts(tmp_path):
    pts = [0, 40, 90, 100, 250, 260, 400, 433]
    clip = make_clip(tmp_path / "vfr.mkv", frames=len(pts), size=SMALL, pts_list=pts,
                     time_base=Fraction(1, 1000))
    for name in ("out.mkv", "out.mp4"):
        process_video(clip, tmp_path / name, BokehSettings())
        frames, times = decode(tmp_path / name)
        assert len(frames) == len(pts)
        assert times == pytest.approx([p / 1000 for p in pts], abs=1e-6)


@pytest.mark.parametrize("degrees", [90, -90, 180])
def test_rotation_tag_is_applied_to_the_pixels(tmp_path, degrees):
    clip = make_clip(tmp_path / "phone.mp4", frames=3, size=SMALL, audio=None, rotation=degrees)
    with av.open(str(clip)) as container:
        tagged = next(container.decode(video=0)).rotation
        assert tagged % 360 == degrees % 360  # the tag round-trips (180 reads back as -180)
    stored, _ = decode(clip)
    out = tmp_path / "upright.mp4"
    process_video(clip, out, BokehSettings(strength=0))  # strength 0: pixels pass through
    with av.open(str(out)) as container:
        first = next(container.decode(video=0))
        assert first.rotation == 0
    frames, _ = decode(out)
    turned = np.rot90(stored[0], degrees // 90)  # counter-clockwise, as ffmpeg displays it
    assert frames[0].shape == turned.shape
    assert mean_abs(frames[0], turned) < 3.0
    assert mean_abs(frames[0], np.rot90(turned, 2)) > 10  # not turned the wrong way


@pytest.mark.parametrize("suffix", [".mkv", ".mov"])
def test_mkv_and_mov_outputs_copy_audio(clip, tmp_path, suffix):
    out = tmp_path / f"out{suffix}"
    process_video(clip, out, BokehSettings(strength=0))
    frames, times = decode(out)
    times_in = decode(clip)[1]
    assert len(frames) == 20
    # Matroska has no negative timestamps: the AAC priming (1024 samples) before zero shifts
    # every stream by the same 23 ms, so the frame intervals and the sync are unchanged.
    assert 0 <= times[0] < 1 / FPS
    assert np.diff(times) == pytest.approx(np.diff(times_in), abs=1e-3)
    name, seconds, rate, rms = audio_of(out)
    assert name == "aac" and rate == 44100 and rms > 0.1
    assert seconds == pytest.approx(20 / FPS, abs=0.05)


def test_audio_the_container_cannot_hold_is_converted_to_aac(tmp_path):
    clip = make_clip(tmp_path / "pcm.mkv", frames=10, size=SMALL, audio="pcm_s16le")
    out = tmp_path / "out.mp4"
    process_video(clip, out, BokehSettings(strength=0))
    name, seconds, rate, rms = audio_of(out)
    assert name == "aac" and rate == 44100 and rms > 0.1
    assert seconds == pytest.approx(10 / FPS, abs=0.05)
    process_video(clip, tmp_path / "out.mkv", BokehSettings(strength=0))
    assert audio_of(tmp_path / "out.mkv")[0] == "pcm_s16le"  # Matroska takes it as is


def test_odd_sized_input_is_padded_by_one_pixel(tmp_path):
    # odd sizes, which yuv420p cannot hold: H.264 4:4:4 in Matroska
    clip = make_clip(tmp_path / "odd.mkv", frames=4, fps=FPS, size=(853, 479), audio=None,
                     pix_fmt="yuv444p")
    out = tmp_path / "out.mp4"
    settings = BokehSettings()
    process_video(clip, out, settings)
    frames_in, times_in = decode(clip)
    frames_out, _ = decode(out)
    assert frames_in[0].shape == (479, 853, 3) and frames_out[0].shape == (480, 854, 3)
    expected = reference_output(frames_in, times_in, BokehSettings())
    for got, want in zip(frames_out, expected, strict=True):
        assert mean_abs(got[:479, :853], want) < 3.0
        assert mean_abs(got[479], got[478]) < 3.0 and mean_abs(got[:, 853], got[:, 852]) < 3.0


def test_mask_and_matte_images_apply_to_every_frame(clip, tmp_path):
    white = tmp_path / "white.png"
    cv2.imwrite(str(white), np.full((90, 160), 255, np.uint8))  # any size: resized to the frame
    frames_in, _ = decode(clip)
    out = tmp_path / "kept.mp4"
    process_video(clip, out, BokehSettings(), mask_path=white)  # all "keep sharp"
    for got, original in zip(decode(out)[0], frames_in, strict=True):
        assert mean_abs(got, original) < 3.0
    half = np.zeros((180, 320), np.uint8)
    half[:, :160] = 255
    cv2.imwrite(str(tmp_path / "half.png"), half)
    matte_out = tmp_path / "matte.mkv"
    process_video(clip, tmp_path / "half.mp4", BokehSettings(), matte_path=tmp_path / "half.png",
                  save_matte=matte_out)
    for matte in decode(matte_out, gray=True)[0]:
        assert matte[:, :150].mean() > 250 and matte[:, 170:].mean() < 5


def test_truncated_input_ends_at_the_last_good_frame(processed, tmp_path):
    data = processed[0].read_bytes()  # faststart: the index is at the front
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(data[: len(data) * 6 // 10])
    result = CliRunner().invoke(main, ["video", str(damaged), "-o", str(tmp_path / "out.mp4")])
    assert result.exit_code == 0, result.output
    kept = len(decode(tmp_path / "out.mp4")[0])
    assert 0 < kept < 20
    assert result.stderr.startswith(f"livebokeh: warning: damaged.mp4 is damaged: {20 - kept} "
                                    "of 20 frames lost")
    assert "(cut off or damaged)" in result.stderr
    assert result.stderr.count("\n") == 1  # no progress bar or FFmpeg log when not a TTY


def _bad_inputs(folder: Path, clip: Path) -> dict[str, list[str]]:
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "text.mp4").write_text("this is not a video\n")
    with av.open(str(folder / "tone.m4a"), "w") as container:
        _write_tone(container, container.add_stream("aac", rate=44100, layout="mono"), 0.5)
    out = str(folder / "out.mp4")
    return {
        "missing": [str(folder / "missing.mp4"), "-o", out],
        "zero-length": [str(folder / "empty.mp4"), "-o", out],
        "text": [str(folder / "text.mp4"), "-o", out],
        "audio-only": [str(folder / "tone.m4a"), "-o", out],
        "avi output": [str(clip), "-o", str(folder / "out.avi")],
        "output is input": [str(clip), "-o", str(clip)],
        "no such folder": [str(clip), "-o", str(folder / "nowhere" / "out.mp4")],
        "matte is output": [str(clip), "-o", out, "--save-matte", out],
        "png matte": [str(clip), "-o", out, "--save-matte", str(folder / "m.png")],
    }


def test_bad_inputs_give_one_line_errors(clip, tmp_path):
    before = clip.read_bytes()
    for case, args in _bad_inputs(tmp_path, clip).items():
        result = CliRunner().invoke(main, ["video", *args])
        assert result.exit_code == 1, case
        assert isinstance(result.exception, SystemExit), case  # not a crash
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("livebokeh: error: "), (case, lines)
        assert "Traceback" not in result.output
        assert not (tmp_path / "out.mp4").exists(), case
        assert not list(tmp_path.glob(".*partial*")), case
    assert clip.read_bytes() == before


def test_ctrl_c_leaves_no_partial_file_and_keeps_the_old_output(tmp_path):
    clip = make_clip(tmp_path / "long.mp4", frames=150, size=SMALL)
    out = tmp_path / "out.mp4"
    out.write_bytes(b"the previous result")
    command = [sys.executable, "-m", "livebokeh", "video", str(clip), "-o", str(out),
               "--save-matte", str(tmp_path / "matte.mkv")]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".out.*.partial.mp4")):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no temp file appeared"
        time.sleep(0.02)
    time.sleep(0.3)  # into the frame loop
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode in (130, -signal.SIGINT), stderr  # -2: a shell shows 130 too
    assert b"Traceback" not in stderr
    assert not list(tmp_path.glob(".out.*")) and not list(tmp_path.glob(".matte.*"))
    assert not (tmp_path / "matte.mkv").exists()
    assert out.read_bytes() == b"the previous result"
