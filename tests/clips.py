"""Make real test clips with PyAV from the portrait the repository ships and a generated tone.

The clips need nothing beside the checkout (a user's fresh clone has no ../shared): the
frames are the bundled ``assets/portrait.jpg`` seen through a camera that pans around the
person along a closed loop, so every frame differs (real motion for the matte smoother and
the encoder) and the person stays in the middle of the picture.
"""

from __future__ import annotations

import functools
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from conftest import PORTRAIT

DEFAULT_SIZE = (854, 480)
PAN = 0.06  # the camera wanders by up to 6 % of the frame width/height around the centre


@functools.lru_cache(maxsize=4)
def _portrait(width: int, height: int) -> np.ndarray:
    """The portrait scaled to cover width x height with a ``PAN`` margin on every side."""
    rgb = cv2.cvtColor(cv2.imread(str(PORTRAIT), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    scale = max(width / rgb.shape[1], height / rgb.shape[0]) * (1 + 2 * PAN)
    size = (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def clip_frame(index: int, size: tuple[int, int] = DEFAULT_SIZE, period: int = 30) -> np.ndarray:
    """Frame ``index`` (RGB uint8) of the panned portrait at ``size`` (w, h).

    The view moves along a closed loop that repeats every ``period`` frames.
    """
    width, height = size
    big = _portrait(width, height)
    phase = 2 * np.pi * index / period
    x0 = (big.shape[1] - width) / 2 * (1 + 0.9 * np.sin(phase))
    y0 = (big.shape[0] - height) / 2 * (1 + 0.9 * np.sin(2 * phase))
    shift = np.float32([[1, 0, -x0], [0, 1, -y0]])
    return cv2.warpAffine(big, shift, (width, height), flags=cv2.INTER_LINEAR)


def clip_frames(count: int, size: tuple[int, int] = DEFAULT_SIZE) -> list[np.ndarray]:
    return [clip_frame(i, size) for i in range(count)]


def make_clip(path: Path, frames: int = 20, fps: int = 25, size: tuple[int, int] | None = None,
              audio: str | None = "aac", **options) -> Path:
    """Write a clip of the panned portrait with an optional 440 Hz tone; ``options`` as for
    ``write_frames`` (rotation tag, variable frame rate, yuv444p for odd sizes, crf)."""
    return write_frames(path, clip_frames(frames, size or DEFAULT_SIZE), fps=fps, audio=audio,
                        **options)


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
                 time_base: Fraction | None = None, metadata: dict | None = None,
                 rotation: int = 0, pix_fmt: str = "yuv420p", crf: int | None = None) -> Path:
    """H.264 of ``images`` (RGB): optional sensor-like noise (std in levels, so grain matching
    has something to match), a keyframe every ``gop`` frames, a tone, ``pts_list`` in
    ``time_base`` for variable frame rates, container ``metadata``, a display ``rotation``
    tag; ``pix_fmt`` yuv444p allows odd sizes."""
    height, width = images[0].shape[:2]
    rng = np.random.default_rng(7)
    with av.open(str(path), "w") as out:
        out.metadata.update(metadata or {})
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, pix_fmt
        video.options = {**({"g": str(gop), "keyint_min": str(gop)} if gop else {}),
                         **({"crf": str(crf)} if crf is not None else {})}
        if time_base is not None:
            video.time_base = video.codec_context.time_base = time_base
        if rotation:
            video.set_display_rotation(rotation)
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
