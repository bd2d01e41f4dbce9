"""Make real test clips with PyAV from the shared tennis-vest frames and a generated tone."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from conftest import tennis_frames


def make_clip(path: Path, frames: int = 20, fps: int = 25, size: tuple[int, int] | None = None,
              audio: str | None = "aac", rotation: int = 0,
              pts_list: list[int] | None = None, time_base: Fraction | None = None) -> Path:
    """Write a clip of real frames (looped), optional 440 Hz tone, optional rotation tag.

    ``pts_list`` with ``time_base`` makes a variable-frame-rate clip with exactly those pts.
    """
    source = tennis_frames()
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=fps)
        first = source[0] if size is None else cv2.resize(source[0], size)
        video.height, video.width = first.shape[:2]
        video.pix_fmt = "yuv420p"
        if time_base is not None:
            video.time_base = time_base
            video.codec_context.time_base = time_base
        if rotation:
            video.set_display_rotation(rotation)
        tone = out.add_stream(audio, rate=44100, layout="mono") if audio else None
        for i in range(frames):
            rgb = source[i % len(source)]
            if size is not None:
                rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            if pts_list is not None:
                frame.pts, frame.time_base = pts_list[i], time_base
            else:
                frame.pts, frame.time_base = i, Fraction(1, fps)
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode(None):
            out.mux(packet)
        if tone is not None:
            _write_tone(out, tone, seconds=frames / fps)
    return path


def _write_tone(out, stream, seconds: float, rate: int = 44100) -> None:
    samples = int(seconds * rate)
    t = np.arange(samples, dtype=np.float32) / rate
    wave = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    chunk = 1024
    for start in range(0, samples, chunk):
        piece = wave[start:start + chunk][None, :]
        frame = av.AudioFrame.from_ndarray(piece, format="flt", layout="mono")
        frame.sample_rate = rate
        frame.pts = start
        frame.time_base = Fraction(1, rate)
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode(None):
        out.mux(packet)



def make_generated_clip(path: Path, frames: int = 20, size: tuple[int, int] = (320, 180),
                        **options) -> Path:
    """A clip that needs no test data: livebokeh's generated scene (a moving head and torso
    on a textured background); ``options`` as for ``write_frames``."""
    from livebokeh.app.bench import generated_frames

    return write_frames(path, generated_frames(*size, frames), **options)


def write_frames(path: Path, images: list[np.ndarray], fps: int = 25, audio: str | None = "aac",
                 gop: int | None = None, noise: float = 0.0, pts_list: list[int] | None = None,
                 time_base: Fraction | None = None, metadata: dict | None = None) -> Path:
    """H.264 of ``images`` (RGB, even sizes): optional sensor-like noise (std in levels, so
    grain matching has something to match), a keyframe every ``gop`` frames, a tone,
    ``pts_list`` in ``time_base`` for variable frame rates, container ``metadata``."""
    height, width = images[0].shape[:2]
    rng = np.random.default_rng(7)
    with av.open(str(path), "w") as out:
        out.metadata.update(metadata or {})
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        if gop is not None:
            video.options = {"g": str(gop), "keyint_min": str(gop)}
        if time_base is not None:
            video.time_base = video.codec_context.time_base = time_base
        tone = out.add_stream(audio, rate=44100, layout="mono") if audio else None
        for i, rgb in enumerate(images):
            if noise:
                rgb = np.clip(rgb + rng.normal(0, noise, rgb.shape), 0, 255).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            if pts_list is not None:
                frame.pts, frame.time_base = pts_list[i], time_base
            else:
                frame.pts, frame.time_base = i, Fraction(1, fps)
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode(None):
            out.mux(packet)
        if tone is not None:
            seconds = len(images) / fps if pts_list is None else float(pts_list[-1] * time_base)
            _write_tone(out, tone, seconds=seconds)
    return path
