"""Each frame's temporary arrays stay in the heap once the segmenter is open (livebokeh.heap).

Measured in a fresh process, as the pipeline allocates: rounds of forty 256x256 float32
planes (the matte's guided filter on the model's grid) and four 1920x1080 float32 frames,
all freed at the end of each round. Without the heap settings, after MediaPipe's import each
round page-faulted 4,496 of its 10,660 pages in again; with them, none.
"""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc",
                                reason="heap settings apply to glibc only")

ROUNDS = """
import resource
import numpy as np
from livebokeh.perception.segmentation import PersonSegmenter

with PersonSegmenter("general") as segmenter:
    segmenter.segment(np.zeros((360, 640, 3), np.uint8))

def one_round():
    planes = [np.ones((256, 256), np.float32) for _ in range(40)]
    frames = [np.ones((1080, 1920), np.float32) for _ in range(4)]
    del planes, frames

for _ in range(3):
    one_round()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    one_round()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 10)
"""
PAGES_PER_ROUND = (40 * 256 * 256 + 4 * 1080 * 1920) * 4 // 4096


def test_frame_temporaries_are_not_faulted_in_again():
    result = subprocess.run([sys.executable, "-c", ROUNDS], capture_output=True, text=True,
                            timeout=120, check=True)
    faults = float(result.stdout.split()[-1])
    assert faults < 0.02 * PAGES_PER_ROUND, (faults, PAGES_PER_ROUND)
