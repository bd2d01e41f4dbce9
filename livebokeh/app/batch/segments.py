"""Long videos in segments: split at keyframes, warm up, encode each part, join without re-encoding.

A segment is a run of frames from one keyframe of the input to the next chosen one. Its
worker first runs the video's first frame through the pipeline (a single pass measures the
grain to match on that frame), then forgets the stream, seeks to a keyframe before the
segment and processes at least ``WARMUP_FRAMES`` frames ahead of its first one without
writing them, starting on a frame where a single pass's subject finder also looks at the
whole frame (every ``RECHECK_FRAMES``). So the temporal state (the smoother, the tracked
box) is close to what a single pass has there: not exact, because the tracked box remembers
further back than any warm-up (it shrinks at most 5 % a frame); measured on a real clip,
lossless and without grain, 39 dB at the least and about 50 dB on average against the single
pass (tests/test_batch.py), well under x264's own differences at crf 18. Every part is
encoded by ``VideoWriter`` with the same settings and holds only the picture, with the
input's own timestamps; ``join_segments`` then copies the parts' packets into the output and
the audio and metadata once from the source (``livebokeh.io.remux``). The output has the
input's frame count and timestamps.
"""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from livebokeh.app.inputs import load_still_inputs
from livebokeh.app.video import EvenBuffer
from livebokeh.errors import LivebokehError
from livebokeh.io.atomic import atomic_output
from livebokeh.io.remux import join_parts
from livebokeh.io.video import VideoReader, VideoWriter
from livebokeh.perception.subject import RECHECK_FRAMES
from livebokeh.pipeline import BokehProcessor

# Frames processed, not written, before a segment's first frame (then back to a whole-frame
# look). The smoother forgets its start at 0.8 a frame at the least (min weight 0.2): after
# 25 frames 0.4 % of it is left; on the DAVIS hike clip 50 frames gave the same least PSNR.
WARMUP_FRAMES = 25


@dataclass(frozen=True)
class VideoIndex:
    """Where a video's frames and keyframes are, from its packets (demuxed, not decoded).

    ``pts``: every frame's pts in presentation order; ``keyframes``: the keyframes' pts,
    ascending; both in ``time_base`` units.
    """

    pts: list[int]
    keyframes: list[int]
    time_base: Fraction

    def seconds(self, pts: int) -> float:
        return float((pts - self.pts[0]) * self.time_base)

    @property
    def duration(self) -> float:
        return self.seconds(self.pts[-1]) if self.pts else 0.0


def index_video(path: Path) -> VideoIndex | None:
    """The frame and keyframe index of ``path``; None where it cannot be split safely.

    A video whose packets lack timestamps or repeat them is not split (a single pass repairs
    such timestamps frame by frame, which a segment starting elsewhere could not reproduce).
    """
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            pts, keyframes = [], []
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue
                if packet.pts is None:
                    return None
                pts.append(packet.pts)
                if packet.is_keyframe:
                    keyframes.append(packet.pts)
            time_base = stream.time_base
    except (av.FFmpegError, IndexError, OSError):
        return None
    pts.sort()
    if not pts or len(set(pts)) != len(pts) or time_base is None:
        return None
    return VideoIndex(pts, sorted(keyframes), time_base)


@dataclass(frozen=True)
class Segment:
    """Frames ``[start_pts, end_pts)`` of a video (``end_pts`` None: to the end).

    The worker seeks to ``seek_pts`` (a keyframe), decodes on, processes from ``warm_pts``
    and writes from ``start_pts``. ``frames``: how many frames it writes.
    """

    index: int
    seek_pts: int
    warm_pts: int
    start_pts: int
    end_pts: int | None
    frames: int


def plan_segments(index: VideoIndex, seconds: float) -> list[Segment]:
    """Split at the first keyframe at least ``seconds`` after each segment's start.

    One segment (the whole video) where no keyframe is far enough in; a last piece shorter
    than half of ``seconds`` is joined to the one before it.
    """
    starts = [index.pts[0]]
    for key in index.keyframes:
        if index.seconds(key) - index.seconds(starts[-1]) >= seconds:
            starts.append(key)
    if len(starts) > 1 and index.duration - index.seconds(starts[-1]) < seconds / 2:
        starts.pop()
    segments = []
    for number, start in enumerate(starts):
        end = starts[number + 1] if number + 1 < len(starts) else None
        first = bisect.bisect_left(index.pts, start)
        last = len(index.pts) if end is None else bisect.bisect_left(index.pts, end)
        warm = index.pts[max(0, first - WARMUP_FRAMES) // RECHECK_FRAMES * RECHECK_FRAMES]
        seek = index.keyframes[max(0, bisect.bisect_right(index.keyframes, warm) - 1)]
        segments.append(Segment(number, min(seek, warm), warm, start, end, last - first))
    return segments


def encode_segment(source: Path, part: Path, settings, segment: Segment, crf: int = 18,
                   threads: int | None = None, progress=None, mask_path=None, matte_path=None,
                   depth_map_path=None, depth_kind: str = "inverse") -> int:
    """Process and encode one segment of ``source`` into ``part`` (picture only); frames written.

    ``part`` has the output's extension (same container, so the same timestamps); it is
    written atomically. ``progress.update(n)`` counts written frames.
    """
    with VideoReader(source, threads) as reader:
        load_still_inputs(settings, reader.size, mask_path, matte_path, depth_map_path,
                          depth_kind)
        ms_per_tick = float(reader.video.time_base or Fraction(1, 1000)) * 1000.0
        out = EvenBuffer(*reader.size)
        written = 0
        with atomic_output(part) as tmp, \
                VideoWriter(tmp, reader, crf, with_audio=False, threads=threads) as writer, \
                BokehProcessor(settings, video=True) as processor:
            frames = (item for item in reader.packets() if item[0] == "video")
            first = next(frames)
            if segment.warm_pts > first[2]:  # a single pass measures grain on frame 1
                processor.process(first[1], round(first[2] * ms_per_tick), out=out.view)
                _forget_the_stream(processor)
                reader.seek(segment.seek_pts)
                frames = (item for item in reader.packets() if item[0] == "video")
            else:
                frames = itertools.chain([first], frames)
            for _, rgb, pts in frames:
                if pts < segment.warm_pts:
                    continue
                if segment.end_pts is not None and pts >= segment.end_pts:
                    break
                processor.process(rgb, round(pts * ms_per_tick), out=out.view)
                if pts >= segment.start_pts:
                    writer.write_frame(out.padded(), pts)
                    written += 1
                    if progress is not None:
                        progress.update(1)
            if written != segment.frames:  # before the part is kept
                raise LivebokehError(f"{source.name}: segment {segment.index + 1} decoded "
                                     f"{written} of its {segment.frames} frames (damaged?)")
    return written


def _forget_the_stream(processor: BokehProcessor) -> None:
    """Start tracking and smoothing afresh, as at a stream's first frame; keep the grain."""
    processor.finder.reset()
    if processor.smoother is not None:
        processor.smoother.reset()


def join_segments(source: Path, parts: list[Path], output: Path) -> int:
    """Join the encoded ``parts`` into ``output`` atomically, audio and metadata from ``source``.

    Returns the frame count written.
    """
    with VideoReader(source) as reader, atomic_output(output) as tmp:
        return join_parts(parts, reader, tmp)
