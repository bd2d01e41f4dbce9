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
* damage does not stop it: packets the decoder rejects are skipped and decoding goes on
  (as the ``ffmpeg`` tool does), so every frame FFmpeg can decode is kept with its own
  timestamp; lost frames are dropped, not repeated, and damaged audio becomes silent gaps of
  the same length (``DecodeDamage``, one warning with the counts); a cut-off file ends at its
  last decodable frame; an input whose start does not decode is an error.

With ``--background transparent`` the output keeps the alpha channel: VP9 (yuva420p) in
.webm (audio copied if Opus/Vorbis, else re-encoded to Opus) or ProRes 4444 in .mov; a .webm
without alpha is plain VP9.

Output: H.264 (libx264, yuv420p, ``crf`` 18 by default, preset ``veryfast``) in .mp4, .mkv
or .mov, chosen by extension; MP4/MOV get ``+faststart`` so they play while downloading.
"""

from __future__ import annotations

import contextlib
import heapq
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import NamedTuple

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


HEAD_PACKETS = 300  # a start that does not decode within this many video packets is an error
REORDER_DEPTH = 4  # decoded frames held back to put damage-shuffled frames back in pts order
DEMUX_RETRIES = 50  # read errors in a row before the rest of a file is given up as unreadable
EARLY_END_FRAMES = 3  # reading that stops this many frame times before the stated end: cut


def _count(n: int, noun: str, plural: str = "s") -> str:
    """``1 damaged video packet``, ``3 damaged video packets``."""
    return f"{n} {noun}{'' if n == 1 else plural}"


@dataclass
class DecodeDamage:
    """What a damaged input cost, counted while it is read: reported once, at the end.

    Lost video frames are dropped, not replaced: every frame kept keeps its own timestamp, so
    the output has a gap in time where players hold the previous picture, and the sound stays
    in sync. A damaged audio packet is dropped where audio is copied and becomes silence of
    the same length where it is re-encoded.
    """

    video_packets: int = 0  # video packets the decoder rejected
    audio_packets: int = 0  # audio packets the decoder rejected
    read_errors: int = 0  # places where the demuxer could not read on
    frames_expected: int = 0  # from the header, else the video packets found
    frames_kept: int = 0
    ends_at_s: float | None = None  # where a stream cut short stops (s), None if it does not
    duration_s: float | None = None
    audio_unreadable: bool = False  # an audio stream whose codec is unknown: left out
    estimated: bool = False  # frames_expected from the duration (no frame count in the header)

    @property
    def frames_lost(self) -> int:
        return max(0, self.frames_expected - self.frames_kept)

    def summary(self) -> str | None:
        """One line for the warning, or None when the input was read whole."""
        parts = []
        if self.frames_lost:
            about = "about " if self.estimated else ""
            parts.append(f"{about}{self.frames_lost} of {self.frames_expected} frames lost "
                         f"(dropped; the others keep their times)")
        if self.video_packets:
            parts.append(_count(self.video_packets, "damaged video packet"))
        if self.audio_packets:
            parts.append(_count(self.audio_packets, "damaged audio packet") + " (silent gaps)")
        if self.read_errors:
            parts.append(_count(self.read_errors, "unreadable stretch", "es") + " skipped")
        if self.audio_unreadable:
            parts.append("its sound cannot be decoded (unknown codec) and is left out")
        if self.ends_at_s is not None:
            parts.append(f"it stops at {self.ends_at_s:.1f} s of {self.duration_s:.1f} s "
                         "(cut off or damaged)")
        return "; ".join(parts) or None


class AudioChunk(NamedTuple):
    """One demuxed audio packet and what it decodes to (silence of its length if damaged)."""

    packet: av.Packet
    frames: list
    damaged: bool


class AudioChecker:
    """Checks the audio packets of ``stream`` one by one, counting damage into ``damage``.

    Each packet is decoded (a copy is checked this way too). A damaged one becomes its
    length of silence; one stamped no later than the packet before (a damaged timestamp)
    would break the output's timing, so it is left out entirely.
    """

    def __init__(self, stream: av.audio.stream.AudioStream, damage: DecodeDamage):
        self.stream, self.damage = stream, damage
        self._dts: int | None = None  # of the last packet passed on

    def check(self, packet: av.Packet) -> AudioChunk:
        if self._dts is not None and packet.dts <= self._dts:
            self.damage.audio_packets += 1
            return AudioChunk(packet, [], True)
        self._dts = packet.dts
        try:
            return AudioChunk(packet, packet.decode(), False)
        except av.FFmpegError:
            self.damage.audio_packets += 1
            return AudioChunk(packet, [self._silence(packet)], True)

    def _silence(self, packet: av.Packet) -> av.AudioFrame:
        """Silence as long as ``packet``, in the decoder's sample format, at its pts."""
        context = self.stream.codec_context
        rate = context.sample_rate or 48000
        samples = context.frame_size or 1024
        if packet.duration and packet.time_base:
            samples = max(1, round(packet.duration * packet.time_base * rate))
        fmt = context.format.name if context.format else "fltp"
        frame = av.AudioFrame(format=fmt, layout=context.layout, samples=samples)
        zero = b"\x80" if fmt.startswith("u8") else b"\x00"  # unsigned 8-bit centres at 128
        for plane in frame.planes:
            plane.update(zero * plane.buffer_size)
        frame.sample_rate = rate
        frame.pts, frame.time_base = packet.pts, packet.time_base
        return frame


class VideoReader:
    """Demuxes and decodes one input in a single pass: upright RGB frames and audio packets.

    The first frame is decoded on open, so a file with no decodable picture fails before any
    output is created, and ``size`` already accounts for the rotation tag. Damage does not
    stop reading: packets the decoder rejects are skipped, read errors are retried, and
    ``damage`` counts what was lost (see ``DecodeDamage``).
    """

    def __init__(self, path: str | Path, threads: int | None = None):
        self.path = path = Path(path)
        self.container = _open_input(path)
        self.video = _main_video_stream(self.container)
        if self.video is None:
            unknown_codec = bool(self.container.streams.video)
            self.container.close()
            if unknown_codec:
                raise LivebokehError(f"cannot decode the video in {path}: its codec is unknown "
                                     "(a damaged header?)")
            raise LivebokehError(f"no video stream in {path} (is it an audio file?)")
        self.video.thread_type = "AUTO"  # frame + slice threads: decoding is not the bottleneck
        if threads:  # a batch worker's share of the cores (0 / None: FFmpeg picks)
            self.video.thread_count = threads
        self.damage = DecodeDamage()
        self.audio = next((s for s in self.container.streams.audio if s.codec_context), None)
        self.damage.audio_unreadable = self.audio is None and bool(self.container.streams.audio)
        self._audio = AudioChecker(self.audio, self.damage) if self.audio is not None else None
        self._video_packets = 0
        self._last_pts: int | None = None
        self._last_time = 0.0  # the last frame's time (s)
        self._read_until = 0.0  # how far the demuxer got (s), any stream
        self._pending: list[tuple[int, int, av.VideoFrame]] = []  # heap: pts, arrival, frame
        self._arrivals = 0
        self._items = self._demux()
        self._head = self._read_head()
        first = self._head[-1][1]
        self.size = (first.shape[1], first.shape[0])  # (width, height) after rotation

    def _read_head(self) -> list[tuple[str, object, int | None]]:
        """Items up to the first video frame; one-line error if the start does not decode."""
        head = []
        for item in self._items:
            head.append(item)
            if item[0] == "video":
                return head
            if self._video_packets >= HEAD_PACKETS:
                break
        self.container.close()
        if self._video_packets >= HEAD_PACKETS:
            raise LivebokehError(f"the start of {self.path} cannot be decoded (its first "
                                 f"{HEAD_PACKETS} video packets are damaged)")
        raise LivebokehError(f"no decodable video frame in {self.path}")

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
        """Yield ("video", rgb, pts) and ("audio", AudioChunk, None) in file order, once.

        Video pts are in ``self.video.time_base`` and strictly increasing (a broken file's
        repeated or missing pts is replaced by the previous pts + 1, which x264 requires).
        ``damage`` is complete once this is exhausted.
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
        self._head, self._last_pts, self._pending = [], None, []
        if self._audio is not None:
            self._audio = AudioChecker(self.audio, self.damage)
        self._items = self._demux()

    def _demux(self) -> Iterator[tuple[str, object, int | None]]:
        streams = [self.video] + ([self.audio] if self.audio is not None else [])
        failures = 0
        while failures < DEMUX_RETRIES:
            try:
                for packet in self.container.demux(*streams):
                    failures = 0
                    self._note_read(packet)
                    if packet.stream is self.audio:
                        if packet.dts is not None:
                            yield "audio", self._audio.check(packet), None
                        continue
                    yield from self._decode(packet)
                break  # the end of the file
            except av.FFmpegError:  # a read error: the demuxer resyncs on the next read
                failures += 1
                if failures == 1:  # a new unreadable stretch
                    self.damage.read_errors += 1
        yield from self._decode(None)
        while self._pending:
            yield self._emit()
        self._tally()

    def _decode(self, packet: av.Packet | None) -> Iterator[tuple[str, np.ndarray, int]]:
        """Decode one packet (None: flush); a packet the decoder rejects is counted, skipped."""
        if packet is not None and packet.size:
            self._video_packets += 1
        try:
            frames = self.video.codec_context.decode(packet)
        except av.EOFError:  # flushed twice (the demuxer's flush packet, then ours)
            return
        except av.FFmpegError:
            self.damage.video_packets += 1
            return
        for frame in frames:
            key = frame.pts if frame.pts is not None else (self._last_pts or 0)
            heapq.heappush(self._pending, (key, self._arrivals, frame))
            self._arrivals += 1
            if len(self._pending) > REORDER_DEPTH:
                yield self._emit()

    def _emit(self) -> tuple[str, np.ndarray, int]:
        """The held frame with the lowest pts, as an upright RGB image."""
        _, _, frame = heapq.heappop(self._pending)
        self.damage.frames_kept += 1
        pts = self._monotonic(frame.pts)
        self._last_time = float(pts * self.video.time_base) if self.video.time_base else 0.0
        return "video", self._upright(frame), pts

    def _note_read(self, packet: av.Packet) -> None:
        """Remember how far into the file (seconds) the demuxer has read."""
        stamp = packet.pts if packet.pts is not None else packet.dts
        if stamp is not None and packet.time_base is not None:
            end = float((stamp + (packet.duration or 0)) * packet.time_base)
            self._read_until = max(self._read_until, end)

    def _tally(self) -> None:
        """Frames expected and whether the file stops short of its stated duration.

        Only a file that shows damage (rejected packets, read errors, an early end) has
        frames counted as lost: clean files legitimately have packets that make no picture
        (invisible VP8 frames, edit lists).
        """
        damage = self.damage
        step = 1.0 / float(self.fps)
        video_end = self._last_time + step
        stated = self.duration
        tail = 0
        if stated is not None and stated - self._read_until > EARLY_END_FRAMES * step:
            damage.ends_at_s, damage.duration_s = video_end, stated
            tail = 0 if self.video.frames else round((stated - video_end) / step)
            damage.estimated = tail > 0
        if damage.video_packets or damage.read_errors or damage.ends_at_s is not None:
            damage.frames_expected = max(int(self.video.frames or 0),
                                         self._video_packets + tail, damage.frames_kept)
        else:
            damage.frames_expected = damage.frames_kept

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
    """The first real video stream with a known codec; cover art (an attached picture) is not
    one, nor a stream whose codec a damaged header made unknown."""
    for stream in container.streams.video:
        if stream.codec_context and not stream.disposition & av.stream.Disposition.attached_pic:
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

    def write_audio(self, chunk: AudioChunk) -> None:
        """Mux one input audio packet: as is, or re-encoded from its decoded frames.

        A damaged packet is left out of a copy (a silent gap, timestamps kept) and re-encoded
        as the silence the reader put in its place.
        """
        if self.audio_out is None:
            return
        if self.copy_audio:
            if not chunk.damaged:
                chunk.packet.stream = self.audio_out  # mux rescales timestamps to the output's
                self.container.mux(chunk.packet)
            return
        for frame in chunk.frames:
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


