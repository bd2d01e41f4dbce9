"""Recorded videos in and out with PyAV: decode anything FFmpeg reads, encode H.264.

What a user expects from a filter that only changes the picture:

* the audio is kept — copied bit for bit when the output container accepts its codec,
  otherwise re-encoded to AAC;
* timestamps are kept: every output frame carries its input frame's pts in the input's
  time base, so variable-frame-rate clips stay in sync and the frame count is unchanged;
* rotation metadata (phone videos) is applied to the pixels, so the output is upright and
  carries no rotation tag;
* odd frame sizes, which yuv420p cannot hold, are padded by one replicated row/column;
* a truncated input is processed up to its last decodable frame, with a warning.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from tqdm import tqdm

from livebokeh.atomic import atomic_output, check_output_path
from livebokeh.errors import LivebokehError
from livebokeh.settings import BokehSettings

CONTAINERS = {".mp4": "mp4", ".mkv": "matroska", ".mov": "mov"}
# audio codecs each container takes as a stream copy; anything else is re-encoded to AAC
COPYABLE_AUDIO = {
    "mp4": {"aac", "mp3", "ac3", "eac3", "opus", "alac"},
    "mov": {"aac", "mp3", "ac3", "eac3", "alac", "pcm_s16le", "pcm_s24le"},
    "matroska": None,  # Matroska takes every audio codec
}
X264_PRESET = "veryfast"  # speed over file size: the blur is the expensive part anyway


def container_format(path: Path) -> str:
    fmt = CONTAINERS.get(Path(path).suffix.lower())
    if fmt is None:
        raise LivebokehError(
            f"unsupported video output type '{Path(path).suffix}' (use .mp4, .mkv or .mov)"
        )
    return fmt


class VideoReader:
    """Demuxes and decodes one input: upright RGB frames with their pts, and audio packets."""

    def __init__(self, path: str | Path):
        path = Path(path)
        if not path.exists():
            raise LivebokehError(f"input not found: {path}")
        if path.is_dir():
            raise LivebokehError(f"input is a folder, not a video: {path}")
        if path.stat().st_size == 0:
            raise LivebokehError(f"input is empty (0 bytes): {path}")
        try:
            self.container = av.open(str(path))
        except (av.FFmpegError, OSError, ValueError) as exc:
            raise LivebokehError(f"cannot read video {path}: {exc}") from None
        if not self.container.streams.video:
            self.container.close()
            raise LivebokehError(f"no video stream in {path}")
        self.path = path
        self.video = self.container.streams.video[0]
        self.video.thread_type = "AUTO"
        self.audio = self.container.streams.audio[0] if self.container.streams.audio else None
        self.truncated_after: int | None = None

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.container.close()

    @property
    def rate(self) -> Fraction:
        """Nominal frame rate (frames per second) used for the progress bar and encoder."""
        return Fraction(self.video.average_rate or self.video.guessed_rate or 30)

    @property
    def frame_count(self) -> int | None:
        """Frame count from the header, or estimated from duration; None if unknown."""
        if self.video.frames:
            return int(self.video.frames)
        if self.video.duration is not None and self.video.time_base is not None:
            return max(1, round(float(self.video.duration * self.video.time_base * self.rate)))
        return None

    def packets(self) -> Iterator[tuple[str, object, int | None]]:
        """Yield ("video", rgb, pts) and ("audio", packet, None) in file order."""
        streams = [self.video] + ([self.audio] if self.audio is not None else [])
        decoded = 0
        try:
            for packet in self.container.demux(*streams):
                if packet.stream is self.audio:
                    if packet.dts is not None:
                        yield "audio", packet, None
                    continue
                for frame in packet.decode():
                    decoded += 1
                    yield "video", self._upright(frame), frame.pts
        except av.FFmpegError:
            self.truncated_after = decoded

    @staticmethod
    def _upright(frame: av.VideoFrame) -> np.ndarray:
        rgb = frame.to_ndarray(format="rgb24")
        turns = round((frame.rotation or 0) / 90) % 4  # counter-clockwise quarter turns
        return np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb


class VideoWriter:
    """H.264 (libx264, yuv420p) writer that keeps input timestamps and muxes audio.

    ``template`` is the input ``VideoReader``: its time base is used for every frame and its
    audio stream is copied or transcoded.
    """

    def __init__(self, path: Path, fmt: str, reader: VideoReader, width: int, height: int,
                 crf: int, with_audio: bool = True):
        self.container = av.open(str(path), "w", format=fmt,
                                 options={"movflags": "+faststart"} if fmt == "mp4" else {})
        self.time_base = reader.video.time_base or Fraction(1, 1000)
        self.stream = self.container.add_stream("libx264", rate=reader.rate)
        self.stream.width, self.stream.height = width + width % 2, height + height % 2
        self.stream.pix_fmt = "yuv420p"
        self.stream.time_base = self.time_base
        self.stream.codec_context.time_base = self.time_base
        self.stream.options = {"crf": str(crf), "preset": X264_PRESET}
        self.audio_in = reader.audio if with_audio else None
        self.audio_out = None
        self.copy_audio = False
        if self.audio_in is not None:
            self._add_audio(fmt)
        self._next_pts = 0

    def _add_audio(self, fmt: str) -> None:
        copyable = COPYABLE_AUDIO[fmt]
        name = self.audio_in.codec_context.name
        self.copy_audio = copyable is None or name in copyable
        if self.copy_audio:
            self.audio_out = self.container.add_stream_from_template(self.audio_in)
        else:
            self.audio_out = self.container.add_stream("aac", rate=self.audio_in.rate or 48000)
            self.audio_out.layout = self.audio_in.layout.name if self.audio_in.layout else "stereo"

    def write_frame(self, rgb: np.ndarray, pts: int | None) -> None:
        """Encode one RGB frame (even-sized) at ``pts`` (input time base; None → next)."""
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24" if rgb.ndim == 3 else "gray")
        frame.pts = self._next_pts if pts is None else pts
        frame.time_base = self.time_base
        self._next_pts = frame.pts + 1
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def write_audio(self, packet: av.Packet) -> None:
        if self.audio_out is None:
            return
        if self.copy_audio:
            packet.stream = self.audio_out
            self.container.mux(packet)
            return
        for frame in packet.decode():
            frame.pts = None
            for out_packet in self.audio_out.encode(frame):
                self.container.mux(out_packet)

    def close(self) -> None:
        """Flush the encoders and write the trailer."""
        for packet in self.stream.encode(None):
            self.container.mux(packet)
        if self.audio_out is not None and not self.copy_audio:
            for packet in self.audio_out.encode(None):
                self.container.mux(packet)
        self.container.close()


def _validate_outputs(input_path: Path, output: Path, save_matte: Path | None) -> None:
    container_format(output)
    check_output_path(output, input_path)
    if save_matte is not None:
        container_format(save_matte)
        check_output_path(save_matte, input_path, output)


def _load_still(path, size) -> np.ndarray:
    from livebokeh.photo import read_grey

    return read_grey(path, size)


def process_video(input_path, output, settings: BokehSettings, mask_path=None, matte_path=None,
                  save_matte=None, crf: int = 18) -> None:
    """The ``livebokeh video`` job: blur every frame, keep audio and timestamps, write atomically.

    ``mask_path``/``matte_path`` are still images applied to every frame. Ctrl-C leaves no
    partial file at the target (KeyboardInterrupt propagates after cleanup).
    """
    input_path, output = Path(input_path), Path(output)
    save_matte = Path(save_matte) if save_matte is not None else None
    _validate_outputs(input_path, output, save_matte)
    with VideoReader(input_path) as reader:
        with atomic_output(output) as tmp, _matte_target(save_matte) as tmp_matte:
            _run(reader, tmp, tmp_matte, settings, crf, mask_path, matte_path)
        if reader.truncated_after is not None:
            print(f"livebokeh: warning: input is truncated or corrupt after frame "
                  f"{reader.truncated_after}; the output ends there", file=sys.stderr)


def _matte_target(save_matte: Path | None):
    import contextlib

    return atomic_output(save_matte) if save_matte is not None else contextlib.nullcontext()


class _EvenBuffer:
    """Reusable even-sized RGB buffer; the odd last row/column replicates its neighbour."""

    def __init__(self, height: int, width: int, channels: int = 3):
        shape = (height + height % 2, width + width % 2) + ((channels,) if channels > 1 else ())
        self.full = np.empty(shape, np.uint8)
        self.view = self.full[:height, :width]
        self.height, self.width = height, width

    def padded(self) -> np.ndarray:
        if self.full.shape[0] != self.height:
            self.full[-1] = self.full[-2]
        if self.full.shape[1] != self.width:
            self.full[:, -1] = self.full[:, -2]
        return self.full


def _run(reader: VideoReader, tmp: Path, tmp_matte: Path | None, settings: BokehSettings,
         crf: int, mask_path, matte_path) -> None:
    from livebokeh.pipeline import BokehProcessor

    writer = matte_writer = out = matte_out = None
    pending_audio: list[av.Packet] = []  # audio demuxed before the first decoded frame
    fmt = container_format(tmp)
    progress = tqdm(total=reader.frame_count, unit="frame", desc=reader.path.name,
                    disable=not sys.stderr.isatty(), leave=False)
    try:
        with BokehProcessor(settings, video=True) as processor:
            for kind, item, pts in reader.packets():
                if kind == "audio":
                    if writer is None:
                        pending_audio.append(item)
                    else:
                        writer.write_audio(item)
                    continue
                rgb = item
                if writer is None:
                    h, w = rgb.shape[:2]
                    if mask_path is not None:
                        settings.refine_mask = _load_still(mask_path, (w, h))
                    if matte_path is not None:
                        settings.matte = _load_still(matte_path, (w, h))
                    writer = VideoWriter(tmp, fmt, reader, w, h, crf)
                    out = _EvenBuffer(h, w)
                    if tmp_matte is not None:
                        matte_writer = VideoWriter(tmp_matte, container_format(tmp_matte),
                                                   reader, w, h, crf, with_audio=False)
                        matte_out = _EvenBuffer(h, w, channels=1)
                    for packet in pending_audio:
                        writer.write_audio(packet)
                    pending_audio.clear()
                ms = None if pts is None else int(pts * reader.video.time_base * 1000)
                result = processor.process(rgb, ms, out=out.view)
                writer.write_frame(out.padded(), pts)
                if matte_writer is not None:
                    cv2.convertScaleAbs(result.matte, matte_out.view, alpha=255.0)
                    matte_writer.write_frame(matte_out.padded(), pts)
                progress.update(1)
        if writer is None:
            raise LivebokehError(f"no decodable video frame in {reader.path}")
        for finished in (writer, matte_writer):
            if finished is not None:
                finished.close()
    except BaseException:
        for unfinished in (writer, matte_writer):
            if unfinished is not None:
                unfinished.container.close()
        raise
    finally:
        progress.close()
