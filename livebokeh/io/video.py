"""Recorded videos in and out with PyAV: decode anything FFmpeg reads, encode H.264.

What a user expects from a filter that only changes the picture:

* the audio is kept: copied bit for bit when the output container accepts its codec,
  otherwise re-encoded to AAC; audio packets are muxed in file order as they are demuxed
  (one pass over the input), so nothing is lost and sync is kept;
* timestamps are kept: every output frame carries its input frame's pts in the input's
  time base, so variable-frame-rate clips stay in sync and the frame count is unchanged;
* rotation metadata (phone videos) is applied to the pixels, so the output is upright and
  carries no rotation tag;
* odd frame sizes, which yuv420p cannot hold, are padded by one replicated row/column
  (853x479 in, 854x480 out) rather than cropped;
* colours do not shift: decoding and encoding use the same YUV matrix and the output is
  tagged with it;
* a truncated input is processed up to its last decodable frame, with a warning on
  stderr (detected where the header gives the frame count, as in MP4/MOV); an input with
  no decodable frame at all is an error.

With ``--background transparent`` the output keeps the alpha channel: VP9 (yuva420p) in
.webm (audio copied if Opus/Vorbis, else re-encoded to Opus) or ProRes 4444 in .mov; a .webm
without alpha is plain VP9.

Output: H.264 (libx264, yuv420p, ``crf`` 18 by default, preset ``veryfast``) in .mp4, .mkv
or .mov, chosen by extension; MP4/MOV get ``+faststart`` so they play while downloading.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import Colorspace

from livebokeh.errors import LivebokehError
from livebokeh.io.atomic import check_input_file

CONTAINERS = {".mp4": "mp4", ".mkv": "matroska", ".mov": "mov", ".webm": "webm"}
ALPHA_CONTAINERS = ("webm", "mov")  # VP9 yuva420p, ProRes 4444
# audio codecs each container takes as a stream copy; anything else is re-encoded to AAC
COPYABLE_AUDIO = {
    "mp4": {"aac", "mp3", "ac3", "eac3", "opus", "alac"},
    "mov": {"aac", "mp3", "ac3", "eac3", "alac", "pcm_s16le", "pcm_s24le"},
    "matroska": None,  # Matroska takes every audio codec
    "webm": {"opus", "vorbis"},
}
AAC_LAYOUTS = {1: "mono", 2: "stereo", 3: "2.1", 4: "quad", 5: "5.0", 6: "5.1",
               7: "6.1", 8: "7.1"}
X264_PRESET = "veryfast"  # speed over file size: the blur is the expensive part anyway


def container_format(path: Path) -> str:
    fmt = CONTAINERS.get(Path(path).suffix.lower())
    if fmt is None:
        raise LivebokehError(
            f"unsupported video output type '{Path(path).suffix}' (use .mp4, .mkv, .mov or .webm)"
        )
    return fmt


class VideoReader:
    """Demuxes and decodes one input in a single pass: upright RGB frames and audio packets.

    The first frame is decoded on open, so a file with no decodable picture fails before any
    output is created, and ``size`` already accounts for the rotation tag.
    """

    def __init__(self, path: str | Path, threads: int | None = None):
        self.path = path = Path(path)
        self.container = _open_input(path)
        self.video = _main_video_stream(self.container)
        if self.video is None:
            self.container.close()
            raise LivebokehError(f"no video stream in {path} (is it an audio file?)")
        self.video.thread_type = "AUTO"  # frame + slice threads: decoding is not the bottleneck
        if threads:  # a batch worker's share of the cores (0 / None: FFmpeg picks)
            self.video.thread_count = threads
        self.audio = self.container.streams.audio[0] if self.container.streams.audio else None
        self.truncated_after: int | None = None
        self.decoded = 0
        self._last_pts: int | None = None
        self._items = self._demux()
        self._head: list[tuple[str, object, int | None]] = []
        for item in self._items:
            self._head.append(item)
            if item[0] == "video":
                break
        else:
            self.container.close()
            raise LivebokehError(f"no decodable video frame in {path}")
        first = self._head[-1][1]
        self.size = (first.shape[1], first.shape[0])  # (width, height) after rotation

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.container.close()

    @property
    def fps(self) -> Fraction:
        """Nominal frame rate (frames per second): the encoder's hint and the progress bar's.

        Timing itself comes from each frame's pts, so variable-rate clips are not affected.
        """
        return Fraction(self.video.average_rate or self.video.guessed_rate or 30)

    @property
    def duration(self) -> float | None:
        """Length in seconds from the stream header, else the container's; None if unknown."""
        if self.video.duration is not None and self.video.time_base is not None:
            return float(self.video.duration * self.video.time_base)
        if self.container.duration is not None:
            return self.container.duration / av.time_base
        return None

    @property
    def frame_count(self) -> int | None:
        """Frame count from the header, else estimated from duration x fps; None if unknown."""
        if self.video.frames:
            return int(self.video.frames)
        if self.duration is not None:
            return max(1, round(self.duration * float(self.fps)))
        return None

    def packets(self) -> Iterator[tuple[str, object, int | None]]:
        """Yield ("video", rgb, pts) and ("audio", packet, None) in file order, once.

        Video pts are in ``self.video.time_base`` and strictly increasing (a broken file's
        repeated or missing pts is replaced by the previous pts + 1, which x264 requires).
        """
        head, self._head = self._head, []
        yield from head
        yield from self._items

    def seek(self, pts: int) -> None:
        """Read on from the keyframe at or before ``pts`` (video time base), for batch segments.

        ``packets()`` then starts at that keyframe; the first frame's pts is not repaired
        against the frames before the seek.
        """
        self.container.seek(pts, stream=self.video, backward=True, any_frame=False)
        self._head, self._last_pts = [], None
        self._items = self._demux()

    def _demux(self) -> Iterator[tuple[str, object, int | None]]:
        streams = [self.video] + ([self.audio] if self.audio is not None else [])
        try:
            for packet in self.container.demux(*streams):
                if packet.stream is self.audio:
                    if packet.dts is not None:
                        yield "audio", packet, None
                    continue
                for frame in packet.decode():
                    self.decoded += 1
                    yield "video", self._upright(frame), self._monotonic(frame.pts)
        except av.FFmpegError:
            self.truncated_after = self.decoded
            return
        if self.video.frames and self.decoded < self.video.frames:  # header knows the count
            self.truncated_after = self.decoded

    def _monotonic(self, pts: int | None) -> int:
        if pts is None or (self._last_pts is not None and pts <= self._last_pts):
            pts = 0 if self._last_pts is None else self._last_pts + 1
        self._last_pts = pts
        return pts

    def _upright(self, frame: av.VideoFrame) -> np.ndarray:
        """RGB uint8 HxWx3, turned as the display matrix says (ffmpeg's autorotate)."""
        rgb = frame.to_ndarray(format="rgb24", src_colorspace=self.matrix(frame.height))
        turns = round((frame.rotation or 0) / 90) % 4  # counter-clockwise quarter turns
        return np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb

    def matrix(self, coded_height: int) -> Colorspace:
        """The YUV matrix of the input: as tagged, else BT.709 for HD and BT.601 below.

        Decoding and encoding use the same matrix (and the output is tagged with it), so
        colours do not shift between input and output in any player.
        """
        tagged = self.video.codec_context.colorspace
        if tagged == 1:  # AVCOL_SPC_BT709
            return Colorspace.ITU709
        if tagged in (5, 6):  # BT470BG, SMPTE170M
            return Colorspace.ITU601
        return Colorspace.ITU709 if coded_height >= 720 else Colorspace.ITU601


def _open_input(path: Path) -> av.container.InputContainer:
    check_input_file(path, "a video")
    try:
        return av.open(str(path))
    except av.FFmpegError as exc:
        raise LivebokehError(f"cannot read video {path}: {exc.strerror or exc} "
                             "(not a video, or damaged)") from None
    except (OSError, ValueError) as exc:
        raise LivebokehError(f"cannot read video {path}: {exc}") from None


def _main_video_stream(container) -> av.video.stream.VideoStream | None:
    """The first real video stream; cover art in music files (attached pictures) is not one."""
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    return None


class VideoWriter:
    """H.264 (libx264, yuv420p) writer that keeps the input's timestamps and muxes its audio.

    ``reader`` is the input: its video time base is used for every frame (each frame keeps
    its own pts, so variable frame rate survives) and its audio stream is copied, or
    re-encoded to AAC where the container cannot hold the codec. Frames must be even-sized
    (yuv420p); ``process_video`` pads odd sizes by one replicated row/column.
    As a context manager it finishes the file on success and abandons it on error.
    ``with_audio``: a main output, which also gets the input's container metadata (title,
    creation time, ...); a matte video or a batch segment gets neither. ``threads``: encoder
    threads (None: the encoder's default, all cores).
    """

    def __init__(self, path: Path, reader: VideoReader, crf: int, with_audio: bool = True,
                 alpha: bool = False, threads: int | None = None):
        fmt = container_format(path)
        self.alpha = alpha
        options = {"movflags": "+faststart"} if fmt in ("mp4", "mov") else {}
        self.container = av.open(str(path), "w", format=fmt, options=options)
        try:
            if with_audio:
                self.container.metadata.update(kept_metadata(reader.container.metadata))
            self._add_streams(fmt, reader, crf, with_audio)
            if threads:
                self.stream.codec_context.thread_count = threads
        except BaseException:
            self.abandon()
            raise

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abandon()

    def _add_streams(self, fmt: str, reader: VideoReader, crf: int, with_audio: bool) -> None:
        self.time_base = reader.video.time_base or Fraction(1, 1000)
        width, height = reader.size
        self.matrix = reader.matrix(reader.video.height)
        codec, pix_fmt, options = video_codec(fmt, self.alpha, crf)
        self.stream = self.container.add_stream(codec, rate=reader.fps)
        self.stream.width, self.stream.height = width + width % 2, height + height % 2
        self.stream.pix_fmt = pix_fmt
        self.stream.time_base = self.time_base
        self.stream.codec_context.time_base = self.time_base
        self.stream.options = options
        _tag_colours(self.stream.codec_context, self.matrix)
        self.audio_in = reader.audio if with_audio else None
        self.audio_out = None
        self.copy_audio = False
        if self.audio_in is not None:
            self._add_audio(fmt)

    def _add_audio(self, fmt: str) -> None:
        copyable = COPYABLE_AUDIO[fmt]
        name = self.audio_in.codec_context.codec.canonical_name  # "mp3", not "mp3float"
        self.copy_audio = copyable is None or name in copyable
        if self.copy_audio:
            self.audio_out = self.container.add_stream_from_template(self.audio_in)
        else:
            rate = self.audio_in.rate or 48000
            channels = self.audio_in.layout.nb_channels if self.audio_in.layout else 2
            layout = AAC_LAYOUTS.get(channels)  # named order: AAC rejects "N channels"
            if layout is None:
                raise LivebokehError(f"cannot convert {channels}-channel {name} audio to AAC "
                                     "for this container; write .mkv to copy it as is")
            if fmt == "webm":  # WebM takes Opus/Vorbis only; the encoder resamples to 48 kHz
                codec, rate, layout = "libopus", 48000, "stereo" if channels > 1 else "mono"
            else:
                codec = "aac"
            self.audio_out = self.container.add_stream(codec, rate=rate, layout=layout)
            self.audio_out.time_base = self.audio_out.codec_context.time_base = Fraction(1, rate)

    def write_frame(self, image: np.ndarray, pts: int) -> None:
        """Encode one even-sized RGB (HxWx3), RGBA (HxWx4) or grey (HxW) uint8 frame at ``pts``."""
        channels = image.shape[2] if image.ndim == 3 else 1
        layout = {1: "gray", 3: "rgb24", 4: "rgba"}[channels]
        frame = av.VideoFrame.from_ndarray(image, format=layout)
        if image.ndim == 3:
            frame = frame.reformat(format=self.stream.pix_fmt, dst_colorspace=self.matrix,
                                   dst_color_range="MPEG")
        frame.pts = pts
        frame.time_base = self.time_base
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def write_audio(self, packet: av.Packet) -> None:
        """Mux one demuxed input audio packet: as is, or decoded and re-encoded to AAC."""
        if self.audio_out is None:
            return
        if self.copy_audio:
            packet.stream = self.audio_out  # mux rescales its timestamps to the output's
            self.container.mux(packet)
            return
        for frame in packet.decode():
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

    def abandon(self) -> None:
        """Close without caring whether the file is valid: it is about to be deleted."""
        with contextlib.suppress(Exception):
            self.container.close()


MUXER_METADATA = {"major_brand", "minor_version", "compatible_brands", "encoder"}


def kept_metadata(metadata: dict[str, str]) -> dict[str, str]:
    """The input container's metadata an output keeps: all but what the muxer writes itself."""
    return {key: value for key, value in metadata.items() if key.lower() not in MUXER_METADATA}


def video_codec(fmt: str, alpha: bool, crf: int) -> tuple[str, str, dict[str, str]]:
    """(encoder, pixel format, options) for a container; alpha needs .webm or .mov."""
    if alpha and fmt not in ALPHA_CONTAINERS:
        raise LivebokehError("--background transparent needs a .webm (VP9) or .mov (ProRes 4444) "
                             "output")
    if fmt == "webm":  # constant quality, row threads, realtime-ish speed
        options = {"crf": str(crf), "b": "0", "row-mt": "1", "deadline": "good",
                   "cpu-used": "4"}
        return "libvpx-vp9", "yuva420p" if alpha else "yuv420p", options
    if alpha:
        return "prores_ks", "yuva444p10le", {"profile": "4444"}
    return "libx264", "yuv420p", {"crf": str(crf), "preset": X264_PRESET}


def _tag_colours(codec_context, matrix: Colorspace) -> None:
    """Tag the stream with the matrix used to encode (BT.709 or BT.601), limited range."""
    if matrix == Colorspace.ITU709:
        codec_context.colorspace = codec_context.color_primaries = codec_context.color_trc = 1
    else:  # SMPTE 170M (BT.601 525-line) for matrix and transfer, primaries left unspecified
        codec_context.colorspace = codec_context.color_trc = 6
    codec_context.color_range = 1  # MPEG / TV range


