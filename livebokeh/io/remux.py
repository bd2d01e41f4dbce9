"""Join separately encoded parts of one video into one file without re-encoding (PyAV remux).

A long video is processed as segments on several workers (``livebokeh.app.batch``); each
part holds only the encoded picture of its frames, with the input's own timestamps. Joining
copies the parts' packets in order into the output and takes the audio and the container
metadata once from the source, exactly as ``VideoWriter`` does for a single pass: audio
copied where the container holds its codec, else re-encoded; packets interleaved by time.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from pathlib import Path

import av

from livebokeh.errors import LivebokehError
from livebokeh.io.video import VideoReader, VideoWriter


class PartJoiner(VideoWriter):
    """A ``VideoWriter`` whose picture is copied from already encoded parts, not encoded.

    The video stream is a copy of the first part's (codec, size, extradata, time base): all
    parts must come from the same encoder settings. The audio stream and metadata are set
    up from ``reader`` (the source) by ``VideoWriter``.
    """

    def __init__(self, path: Path, reader: VideoReader, template: av.video.stream.VideoStream):
        self._template = template
        super().__init__(path, reader, crf=0)

    def _add_streams(self, fmt: str, reader: VideoReader, crf: int, with_audio: bool) -> None:
        self.stream = self.container.add_stream_from_template(self._template)
        self.time_base = self._template.time_base
        self.stream.time_base = self.time_base
        self.audio_in, self.audio_out, self.copy_audio = reader.audio, None, False
        if self.audio_in is not None:
            self._add_audio(fmt)

    def write_video_packet(self, packet: av.Packet) -> None:
        packet.stream = self.stream
        self.container.mux(packet)

    def close(self) -> None:
        if self.audio_out is not None and not self.copy_audio:
            for packet in self.audio_out.encode(None):
                self.container.mux(packet)
        self.container.close()


def _seconds(packet: av.Packet) -> float:
    stamp = packet.dts if packet.dts is not None else packet.pts
    return float((stamp or 0) * packet.time_base)


def _part_packets(parts: list[Path]) -> Iterator[av.Packet]:
    """Every video packet of the parts in order, with decode timestamps kept increasing.

    Each part starts with a keyframe whose decode time the encoder puts a reorder delay
    before its pts; where that reaches back to the previous part's last packet (variable
    frame rate), or where the demuxer does not know it (Matroska stores no decode times),
    it becomes one tick after the previous packet's, which stays at or before its pts.
    """
    last_dts: int | None = None
    for part in parts:
        with av.open(str(part)) as container:
            for packet in container.demux(container.streams.video[0]):
                if packet.size == 0:  # the demuxer's end-of-stream marker
                    continue
                if packet.dts is None or (last_dts is not None and packet.dts <= last_dts):
                    packet.dts = packet.pts if last_dts is None else last_dts + 1
                last_dts = packet.dts
                yield packet


def _audio_packets(reader: VideoReader) -> Iterator[av.Packet]:
    """The source's audio packets from its start (a second handle: ``reader`` may have read on)."""
    if reader.audio is None:
        return
    with av.open(str(reader.path)) as container:
        for packet in container.demux(container.streams[reader.audio.index]):
            if packet.dts is not None and packet.size:
                yield packet


def join_parts(parts: list[Path], reader: VideoReader, output: Path) -> int:
    """Write ``output`` from the encoded ``parts`` (in order) and ``reader``'s audio.

    ``reader`` is the source video, not yet read. Returns the number of video packets
    (frames) written. Packets are muxed in time order (parts and source audio merged), so
    the muxer never has to buffer a whole stream.
    """
    if not parts:
        raise LivebokehError(f"no parts to join for {output}")
    with av.open(str(parts[0])) as first:
        joiner = PartJoiner(output, reader, first.streams.video[0])
    frames = 0
    try:
        video = ((_seconds(p), 0, i, p) for i, p in enumerate(_part_packets(parts)))
        audio = ((_seconds(p), 1, i, p) for i, p in enumerate(_audio_packets(reader)))
        for _, kind, _, packet in heapq.merge(video, audio):
            if kind == 0:
                joiner.write_video_packet(packet)
                frames += 1
            else:
                joiner.write_audio(packet)
    except BaseException:
        joiner.abandon()
        raise
    joiner.close()
    return frames
