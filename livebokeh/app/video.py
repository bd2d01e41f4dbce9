"""The ``livebokeh video`` job: decode, blur every frame, encode, with audio and timestamps kept.

Reading and writing live in ``livebokeh.io.video``; this module wires them to the pipeline and
makes the output atomic (a temp file renamed when complete).
"""

from __future__ import annotations

import contextlib
import sys
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from livebokeh.app.inputs import load_still_inputs
from livebokeh.errors import LivebokehError
from livebokeh.io.atomic import atomic_outputs, check_output_path
from livebokeh.io.video import VideoReader, VideoWriter, container_format, video_codec
from livebokeh.pipeline import STREAM_IN_FLIGHT, BokehProcessor, MatteRing
from livebokeh.settings import BokehSettings, background_path
from livebokeh.threads import ahead, limit_threads

STAGE_DEPTH = 2  # frames waiting between two stages (more only adds memory and latency)


def _validate_outputs(input_path: Path, output: Path, save_matte: Path | None,
                      settings: BokehSettings) -> None:
    video_codec(container_format(output), settings.background == "transparent", 0)
    background = background_path(settings.background)
    check_output_path(output, input_path, background)
    if save_matte is not None:
        container_format(save_matte)
        if save_matte.resolve() == output.resolve():
            raise LivebokehError(f"--save-matte and -o are the same file: {output}")
        check_output_path(save_matte, input_path, output, background)


def process_video(input_path, output, settings: BokehSettings, mask_path=None, matte_path=None,
                  save_matte=None, crf: int = 18, depth_map_path=None,
                  depth_kind: str = "inverse", threads: int | None = None,
                  progress=None) -> None:
    """The ``livebokeh video`` job: blur every frame, keep audio and timestamps, write atomically.

    Everything is checked before any output is created: output types and folders, the input
    (readable, has a decodable video frame), the mask and matte images. ``mask_path`` and
    ``matte_path`` are still images (resized to the frame) applied to every frame.
    ``save_matte`` is a second video: the matte as grey (255 = subject), same timestamps.
    Ctrl-C or any error (a full disk included: one line naming the file and the cause)
    removes the temp files and leaves existing targets untouched (KeyboardInterrupt
    propagates after cleanup); the video and its matte appear together or not at all.
    ``depth_map_path`` is a still depth map (``perception.depth.load_depth_map``) used for
    every frame by the lens style.

    ``threads``: CPU cores this job may keep busy (``livebokeh.threads``; default all): OpenCV,
    the decoder and the encoder are held to it, so that batch workers x threads never exceed
    the cores. From 2 up, decoding, segmentation, matte + render and encoding of consecutive
    frames overlap on their own threads; 1 runs them one after another. ``progress``:
    anything with ``update(frames)`` (a batch's shared bar); None: a bar of its own when
    stderr is a terminal.
    """
    input_path, output = Path(input_path), Path(output)
    save_matte = Path(save_matte) if save_matte is not None else None
    _validate_outputs(input_path, output, save_matte, settings)
    count = limit_threads(threads)
    with VideoReader(input_path, count) as reader:
        load_still_inputs(settings, reader.size, mask_path, matte_path, depth_map_path,
                          depth_kind)
        with atomic_outputs(output, save_matte) as (tmp, tmp_matte):
            _run(reader, tmp, tmp_matte, settings, crf, count, progress)
        damage = reader.damage.summary()
        if damage is not None:
            print(f"livebokeh: warning: {input_path.name} is damaged: {damage}", file=sys.stderr)


class EvenBuffer:
    """Reusable even-sized frame buffer (yuv420p needs even sides).

    The pipeline writes into ``view`` (the true size); ``padded()`` fills the extra last
    row/column, if any, by replicating its neighbour, so odd-sized inputs come out one pixel
    taller/wider rather than losing a row or column of picture.
    """

    def __init__(self, width: int, height: int, channels: int = 3):
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


class _Outputs:
    """The buffers one output frame needs: the picture, and the alpha or matte if written.

    A job keeps ``STAGE_DEPTH + 2`` of them and uses them in turn: that many frames can be in
    flight between the render and the encoder (one rendered, ``STAGE_DEPTH`` waiting, one
    being encoded), so a buffer is free again when its turn comes.
    """

    def __init__(self, size: tuple[int, int], alpha: bool, matte: bool):
        self.image = EvenBuffer(*size)
        self.rgba = EvenBuffer(*size, channels=4) if alpha else None
        self.matte = EvenBuffer(*size, channels=1) if matte else None

    def fill(self, result) -> None:
        """Keep what the encoder needs from ``result`` (the processor reuses its arrays)."""
        if self.rgba is not None:  # transparent: colour and the matte as alpha
            self.rgba.view[..., :3] = self.image.view
            self.rgba.view[..., 3] = result.alpha
        if self.matte is not None:
            cv2.convertScaleAbs(result.matte, self.matte.view, alpha=255.0)


def _run(reader: VideoReader, tmp: Path, tmp_matte: Path | None, settings: BokehSettings,
         crf: int, threads: int = 1, progress=None) -> None:
    """Decode, blur and encode every frame; audio packets are muxed in their file order.

    With ``threads`` > 1 four stages overlap (``threads.ahead``): decoding, segmentation
    and matte (``perceive``), render (``finish``) and, on this thread, encoding; audio packets
    pass through the stages untouched, so everything stays in file order.
    """
    ms_per_tick = float(reader.video.time_base or Fraction(1, 1000)) * 1000.0
    alpha = settings.background == "transparent"
    pipelined = threads > 1
    outputs = [_Outputs(reader.size, alpha, tmp_matte is not None)
               for _ in range(STAGE_DEPTH + 2 if pipelined else 1)]
    with contextlib.ExitStack() as stack:  # on error: writers abandoned, nothing flushed
        writer = stack.enter_context(VideoWriter(tmp, reader, crf, alpha=alpha, threads=threads))
        if tmp_matte is not None:
            matte_writer = stack.enter_context(VideoWriter(tmp_matte, reader, crf, False,
                                                           threads=threads))
        if progress is None:
            progress = stack.enter_context(
                tqdm(total=reader.frame_count, unit="frame", desc=reader.path.name,
                     disable=not sys.stderr.isatty(), leave=False))
        processor = stack.enter_context(BokehProcessor(settings, video=True))
        mattes = MatteRing(STREAM_IN_FLIGHT) if pipelined else None
        frame_index = 0

        def perceive(item):
            kind, rgb, pts = item
            if kind == "audio":
                return item, None
            matte = mattes.next(*rgb.shape[:2]) if mattes is not None else None
            return item, processor.perceive(rgb, round(pts * ms_per_tick), matte)

        def finish(pair):
            nonlocal frame_index
            (kind, rgb, pts), perception = pair
            if kind == "audio":
                return kind, rgb, None
            buffers = outputs[frame_index % len(outputs)]
            frame_index += 1
            buffers.fill(processor.finish(rgb, perception, out=buffers.image.view))
            return kind, buffers, pts

        if pipelined:  # closed (threads joined) before the processor and writers close
            stages = ahead(reader.packets(), depth=STAGE_DEPTH, name="decode")
            stages = ahead(stages, perceive, depth=1, name="perceive")
            stages = stack.enter_context(contextlib.closing(
                ahead(stages, finish, depth=STAGE_DEPTH, name="render")))
        else:
            stages = map(finish, map(perceive, reader.packets()))
        for kind, item, pts in stages:
            if kind == "audio":
                writer.write_audio(item)
                continue
            image = item.image.padded() if item.rgba is None else item.rgba.padded()
            writer.write_frame(image, pts)
            if item.matte is not None:
                matte_writer.write_frame(item.matte.padded(), pts)
            progress.update(1)
