"""A short soak: ``livebokeh cam --camera FILE --loop`` into a virtual camera stays flat.

The short version of ``scripts/soak.py`` (which runs 30 minutes' worth of frames): the real
command as its own process, a 2-second clip looped (reopened every 60 frames), frames taken
by a counting pyvirtualcam backend, RSS, open file descriptors and threads sampled from /proc.
A leak of one frame buffer per frame (170 kB at 320x180) would add well over 100 MB over this
run; reopening the clip without closing it would add a descriptor per loop.
"""

from __future__ import annotations

import importlib.util
import sys

import pytest

from conftest import REPO

FRAMES = 1500  # 50 s of 30 fps video, 25 loops of the 2-second clip


def load_soak():
    spec = importlib.util.spec_from_file_location("soak", REPO / "scripts" / "soak.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc (Linux)")
def test_cam_loop_keeps_memory_and_files_flat():
    result = load_soak().soak(FRAMES, size=(320, 180), fps=240, vcam="counting", interval=0.5,
                              warmup=0.5)
    summary = result["summary"]
    assert summary["frames"] == FRAMES
    assert summary["frames_produced"] >= FRAMES  # the clip was looped again and again
    assert len(result["samples"]) >= 10
    # After warm-up, the memory stays where it is: no frame-sized buffer per frame (170 kB x
    # 1000 frames = 170 MB) and no clip-sized leak per loop.
    assert result["rss_mb_end"] - result["rss_mb_after_warmup"] < 25, result
    assert result["rss_mb_max"] - result["rss_mb_after_warmup"] < 40, result
    # Reopening the clip at every loop leaves no descriptor or thread behind.
    assert max(result["fds"]) - min(result["fds"]) <= 2, result["fds"]
    assert max(result["threads"]) - min(result["threads"]) <= 2, result["threads"]
