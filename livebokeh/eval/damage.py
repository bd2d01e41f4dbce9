"""What a damaged video still holds: the yardstick for ``io.video``'s damage handling.

``ffmpeg_decodable`` counts the frames FFmpeg itself decodes when it goes on past the
packets it rejects (what the ``ffmpeg`` tool does): a reader that keeps every decodable
frame keeps this many.
"""

from __future__ import annotations

from pathlib import Path

import av


def ffmpeg_decodable(path: Path) -> int:
    """Frames FFmpeg decodes from ``path``'s first video stream, skipping rejected packets."""
    count = 0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for packet in container.demux(stream):
            try:
                count += len(stream.codec_context.decode(packet if packet.size else None))
            except av.FFmpegError:
                continue
    return count
