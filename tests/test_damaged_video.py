"""Damaged videos are decoded past: every frame FFmpeg can decode is kept, with its own time.

Damage is made the way it happens: bytes overwritten with random ones in a real H.264 clip
(the panned portrait, tests/clips.py), either a 20 kB stretch in the middle of the file or
exactly the bytes of chosen packets (their offsets come from the demuxer). What FFmpeg itself
can decode is measured with PyAV decoding every packet and going on past rejected ones, as the
``ffmpeg`` tool does.
"""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from click.testing import CliRunner

from clips import make_clip
from livebokeh.app.cli import main
from livebokeh.eval.damage import ffmpeg_decodable
from livebokeh.io.video import HEAD_PACKETS, VideoReader

SIZE, FPS, FRAMES = (640, 360), 30, 90


def run_video(source: Path, out: Path, *options: str):
    return CliRunner().invoke(main, ["video", str(source), "-o", str(out), *options])


def frame_times(path: Path) -> list[float]:
    with av.open(str(path)) as container:
        return [float(f.pts * f.time_base) for f in container.decode(video=0)]


def packet_spans(path: Path, kind: str) -> list[tuple[int, int]]:
    """(byte offset, size) of every ``kind`` packet of an MP4 (its payload sits at pos)."""
    with av.open(str(path)) as container:
        stream = getattr(container.streams, kind)[0]
        return [(p.pos, p.size) for p in container.demux(stream) if p.size]


def overwrite(path: Path, target: Path, spans, seed: int = 0) -> Path:
    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(seed)
    for start, size in spans:
        data[start:start + size] = rng.bytes(size)
    target.write_bytes(bytes(data))
    return target


def warning_of(result) -> str:
    """The one warning line of a run (the backend notice, when logged, is another line)."""
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(lines) == 1 and lines[0].startswith("livebokeh: warning: "), result.stderr
    return lines[0]


@pytest.fixture(scope="module", params=[".mp4", ".mkv"])
def clean(request, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("clean")
    return make_clip(folder / f"clean{request.param}", frames=FRAMES, fps=FPS, size=SIZE)


def test_damaged_middle_keeps_every_frame_ffmpeg_decodes(clean, tmp_path):
    size = len(clean.read_bytes())
    damaged = overwrite(clean, tmp_path / f"damaged{clean.suffix}",
                        [(size // 2 - 10_000, 20_000)])
    decodable = ffmpeg_decodable(damaged)
    assert decodable < FRAMES  # the damage is real
    out = tmp_path / "out.mp4"
    line = warning_of(run_video(damaged, out))
    kept = frame_times(out)
    assert len(kept) >= 0.9 * decodable, (len(kept), decodable)  # measured: all of them
    originals = frame_times(clean)
    assert kept == sorted(set(kept))  # in order, none doubled
    assert all(min(abs(t - o) for o in originals) < 1e-3 for t in kept)  # own times kept
    lost = int(re.search(r"(\d+) of (\d+) frames lost", line).group(1))
    assert lost >= FRAMES - len(kept) - 1  # the count is told (estimated where no index)
    assert f"{damaged.name} is damaged" in line


def test_damaged_video_packets_are_counted_exactly(tmp_path):
    clean = make_clip(tmp_path / "clean.mp4", frames=30, fps=FPS, size=(320, 180))
    spans = packet_spans(clean, "video")
    damaged = overwrite(clean, tmp_path / "damaged.mp4", spans[12:15])
    with VideoReader(damaged) as reader:
        times = [pts for kind, _, pts in reader.packets() if kind == "video"]
    damage = reader.damage
    assert damage.video_packets >= 1 and damage.frames_expected == 30
    assert damage.frames_kept == len(times) == ffmpeg_decodable(damaged)
    assert damage.frames_lost == 30 - len(times) >= 3
    assert times == sorted(set(times))


def test_undecodable_start_is_one_line(tmp_path):
    clean = make_clip(tmp_path / "clean.mp4", frames=30, fps=FPS, size=(320, 180), audio=None)
    spans = packet_spans(clean, "video")
    damaged = overwrite(clean, tmp_path / "damaged.mp4", spans[:1])  # the only key frame
    assert ffmpeg_decodable(damaged) == 0
    result = run_video(damaged, tmp_path / "out.mp4")
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert lines == [f"livebokeh: error: no decodable video frame in {damaged}"]
    assert not list(tmp_path.glob("out*")) and not list(tmp_path.glob(".out*"))


def test_long_undecodable_start_stops_early(tmp_path):
    """A start that does not decode within HEAD_PACKETS packets fails without reading on."""
    frames = HEAD_PACKETS + 20
    clean = make_clip(tmp_path / "clean.mp4", frames=frames, fps=FPS, size=(64, 48), audio=None)
    spans = packet_spans(clean, "video")
    keyframes = [0, 250]  # x264's default key frame interval
    damaged = overwrite(clean, tmp_path / "damaged.mp4", [spans[i] for i in keyframes])
    result = run_video(damaged, tmp_path / "out.mp4")
    assert result.exit_code == 1
    assert f"first {HEAD_PACKETS} video packets are damaged" in result.stderr
    assert result.stderr.count("\n") == 1


def audio_seconds(path: Path) -> tuple[str, float, int]:
    """Audio codec, decoded length in seconds and packet count."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        packets = [p for p in container.demux(stream) if p.size]
        samples = 0
        for packet in packets:
            samples += sum(f.samples for f in packet.decode())
        return stream.codec_context.codec.canonical_name, samples / stream.rate, len(packets)


@pytest.mark.parametrize(("suffix", "copied"), [(".mkv", True), (".webm", False)])
def test_damaged_audio_packets_become_silent_gaps(tmp_path, suffix, copied):
    clean = make_clip(tmp_path / "clean.mp4", frames=30, fps=FPS, size=(320, 180))
    spans = packet_spans(clean, "audio")
    damaged = overwrite(clean, tmp_path / "damaged.mp4", spans[10:13])
    with VideoReader(damaged) as reader:
        list(reader.packets())
    assert reader.damage.audio_packets == 3 and reader.damage.frames_lost == 0
    out = tmp_path / f"out{suffix}"
    line = warning_of(run_video(damaged, out))
    assert "3 damaged audio packets" in line and "frames lost" not in line
    assert len(frame_times(out)) == 30
    name_in, seconds_in, packets_in = audio_seconds(clean)
    name_out, seconds_out, packets_out = audio_seconds(out)
    if copied:  # the damaged packets are left out; the rest are the input's, in sync
        assert name_out == name_in and packets_out == packets_in - 3
    else:  # re-encoded: silence where the damage was, so the length (and sync) is kept
        assert name_out == "opus"  # WebM takes Opus, not AAC
        assert seconds_out == pytest.approx(seconds_in, abs=0.05)


@pytest.mark.parametrize("kind", ["mp4", "mkv-vfr", "mov-rotated", "mkv-pcm", "mp4-no-audio"])
def test_clean_clips_report_no_damage(tmp_path, kind):
    """Clean files of every kind the suite uses are read whole, with nothing reported."""
    options = {
        "mp4": {},
        "mkv-vfr": {"pts_list": [0, 40, 90, 100, 250, 260, 400, 433],
                    "time_base": Fraction(1, 1000)},
        "mov-rotated": {"rotation": 90},
        "mkv-pcm": {"audio": "pcm_s16le"},
        "mp4-no-audio": {"audio": None},
    }[kind]
    frames = len(options.get("pts_list", range(12)))
    clip = make_clip(tmp_path / f"clip.{kind.split('-')[0]}", frames=frames, fps=FPS,
                     size=(160, 96), **options)
    with VideoReader(clip) as reader:
        kept = sum(1 for item, _, _ in reader.packets() if item == "video")
    assert kept == frames and reader.damage.summary() is None, reader.damage


def test_damage_summary_counts_in_words():
    from livebokeh.io.video import DecodeDamage

    one, three = DecodeDamage(), DecodeDamage()
    one.video_packets = one.audio_packets = one.read_errors = 1
    three.video_packets = three.read_errors = 3
    assert one.summary() == ("1 damaged video packet; 1 damaged audio packet (silent gaps); "
                             "1 unreadable stretch skipped")
    assert three.summary() == "3 damaged video packets; 3 unreadable stretches skipped"
