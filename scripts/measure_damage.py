"""How many frames of a video with damaged bytes in the middle livebokeh keeps.

For each clean clip and seed, 20 kB (``--bytes``) around the middle of the file (seed s moves
the spot by s x 2.5 % of the file) are overwritten with random bytes. Three counts per damaged file:

* ``ffmpeg``: what FFmpeg itself can decode from it, PyAV decoding every packet straight
  through and going on past the packets the decoder rejects (as the ``ffmpeg`` tool does);
* ``livebokeh``: the frames ``livebokeh.io.video.VideoReader`` hands to the pipeline;
* their ratio (the target is at least 90 %).

Clips: the given files, else 90-frame H.264 MP4 and MKV clips (854x480, crf 18, AAC tone) made
from the bundled portrait panned, plus, with ``--frames-dir``, from a folder of JPEG frames
(e.g. ../shared/testdata/tennis-vest, looped). Run it against another checkout's reader with
``PYTHONPATH=/path/to/checkout`` to compare versions.

    python scripts/measure_damage.py [--seeds 5] [--frames-dir DIR] [CLIP ...]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from livebokeh.app.bench import animated
from livebokeh.errors import LivebokehError
from livebokeh.eval.damage import ffmpeg_decodable
from livebokeh.io.video import VideoReader

REPO = Path(__file__).resolve().parents[1]
SIZE = (854, 480)
FRAMES, FPS = 90, 30


def make_clip(path: Path, frames: list[np.ndarray]) -> Path:
    """``FRAMES`` frames (cycled) as H.264 crf 18 with a 440 Hz AAC tone, by extension."""
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=FPS)
        video.width, video.height = SIZE
        video.pix_fmt, video.options = "yuv420p", {"crf": "18"}
        audio = out.add_stream("aac", rate=44100, layout="mono")
        for i in range(FRAMES):
            frame = av.VideoFrame.from_ndarray(frames[i % len(frames)], format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, FPS)
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        samples = 44100 * FRAMES // FPS
        tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(samples) / 44100)).astype(np.float32)
        for start in range(0, samples, 1024):
            chunk = av.AudioFrame.from_ndarray(tone[None, start:start + 1024], format="flt",
                                               layout="mono")
            chunk.sample_rate, chunk.pts, chunk.time_base = 44100, start, Fraction(1, 44100)
            out.mux(audio.encode(chunk))
        out.mux(audio.encode(None))
    return path


def damaged_copy(clean: Path, target: Path, seed: int, size: int) -> Path:
    data = bytearray(clean.read_bytes())
    middle = len(data) // 2 - size // 2 + seed * len(data) // 40
    data[middle:middle + size] = np.random.default_rng(seed).bytes(size)
    target.write_bytes(bytes(data))
    return target


def livebokeh_kept(path: Path) -> int:
    try:
        with VideoReader(path) as reader:
            return sum(1 for kind, _, _ in reader.packets() if kind == "video")
    except LivebokehError:
        return 0


def default_clips(folder: Path, frames_dir: Path | None) -> list[Path]:
    portrait = cv2.cvtColor(cv2.imread(str(REPO / "assets" / "portrait.jpg")), cv2.COLOR_BGR2RGB)
    sources = {"portrait": animated(cv2.resize(portrait, SIZE, interpolation=cv2.INTER_AREA),
                                    FRAMES, amplitude=0.03)}
    if frames_dir is not None:
        sources[frames_dir.name] = [
            cv2.resize(cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB), SIZE)
            for p in sorted(frames_dir.glob("*.jpg"))]
    return [make_clip(folder / f"{name}.{ext}", frames)
            for name, frames in sources.items() for ext in ("mp4", "mkv")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clips", nargs="*", type=Path)
    parser.add_argument("--seeds", type=int, default=5, help="damaged copies per clip")
    parser.add_argument("--bytes", type=int, default=20_000)
    parser.add_argument("--frames-dir", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        clips = args.clips or default_clips(folder, args.frames_dir)
        print(f"{'clip':28} {'seed':>4} {'ffmpeg':>6} {'livebokeh':>9} {'kept':>6}")
        ratios = []
        for clip in clips:
            for seed in range(args.seeds):
                damaged = damaged_copy(clip, folder / f"damaged{clip.suffix}", seed, args.bytes)
                reference, kept = ffmpeg_decodable(damaged), livebokeh_kept(damaged)
                ratio = kept / reference if reference else 1.0
                ratios.append(ratio)
                print(f"{clip.name:28} {seed:4} {reference:6} {kept:9} {ratio:6.0%}")
        print(f"median kept {statistics.median(ratios):.0%}, lowest {min(ratios):.0%} "
              f"over {len(ratios)} damaged files")


if __name__ == "__main__":
    main()
