"""``livebokeh video`` with its stages overlapped (``threads`` >= 2) and one after another.

Same real clip (tennis frames and an AAC tone): the same frames, timestamps and audio come
out either way, and no stage thread outlives the job. (Ctrl-C in the middle of an overlapped
job is tests/test_video.py's test, which runs with every core; an error inside a stage is
tests/test_threads.py's.)
"""

from __future__ import annotations

import threading

import av
import cv2
import numpy as np
import pytest

from clips import make_clip
from livebokeh.app.video import process_video
from livebokeh.eval.metrics import psnr
from livebokeh.settings import BokehSettings


def decoded(path, gray: bool = False):
    with av.open(str(path)) as container:
        frames = [(f.pts, f.to_ndarray(format="gray" if gray else "rgb24"))
                  for f in container.decode(video=0)]
    with av.open(str(path)) as container:
        audio = sum(p.size for s in container.streams.audio for p in container.demux(s))
    return frames, audio


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("threads") / "clip.mp4", frames=24, fps=25,
                     size=(320, 180))


def test_overlapped_and_sequential_jobs_write_the_same_video(clip, tmp_path):
    settings = BokehSettings(strength=40, grain="off")
    outputs = {}
    for threads in (1, 2):
        out = tmp_path / f"out{threads}.mp4"
        process_video(clip, out, settings, save_matte=tmp_path / f"matte{threads}.mkv",
                      threads=threads)
        outputs[threads] = decoded(out)
        if threads == 1:
            assert cv2.getNumThreads() == 1
    (seq, seq_audio), (ovl, ovl_audio) = outputs[1], outputs[2]
    assert [pts for pts, _ in ovl] == [pts for pts, _ in seq] and len(seq) == 24
    assert ovl_audio == seq_audio > 0
    for (_, a), (_, b) in zip(seq, ovl, strict=True):
        # the same pictures, encoded by x264 with 1 or 2 threads (a plain re-encode of the
        # same frames at crf 18 differs by ~2 levels on average, tests/test_video.py)
        assert np.abs(a.astype(np.int16) - b).mean() < 2.5 and psnr(a, b) >= 37
    mattes = [decoded(tmp_path / f"matte{t}.mkv", gray=True)[0] for t in (1, 2)]
    assert all(np.abs(a.astype(int) - b).mean() < 1.0
               for (_, a), (_, b) in zip(*mattes, strict=True))
    assert not [t for t in threading.enumerate() if t.name.startswith("livebokeh ")]
