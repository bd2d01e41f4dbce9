"""Every CUDA kernel source shipped in livebokeh.render.cuda compiles with nvcc (no GPU needed).

The renderer compiles them at run time with NVRTC through CuPy; nvcc catches syntax and
type errors here, where there is no GPU, and the PTX shows the kernels the Python code
launches by name exist with C linkage.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from importlib import resources

import numpy as np
import pytest

from livebokeh.render.cuda.renderer import blend_arguments, correlate_arguments

NVCC = shutil.which("nvcc")
KERNEL_FILES = sorted(p.name for p in resources.files("livebokeh.render.cuda").iterdir()
                      if p.name.endswith(".cu"))
PTX_TYPE = {np.ndarray: ".u64", np.int32: ".u32", np.float32: ".f32"}  # pointer, int, float


def _plane(*shape):
    return np.zeros(shape, np.float32)


# What the renderer passes to each kernel (built by the same functions, with NumPy arrays).
LAUNCHED = {
    "blend.cu": {"blend_upsampled": blend_arguments(
        np.zeros((8, 8, 3), np.uint8), np.zeros((2, 2, 3), np.uint8), _plane(8, 8),
        _plane(1, 1), _plane(4, 4), 1.0, -1.0, _plane(72, 72), (3, 5), 2.0,
        np.zeros((8, 8, 3), np.uint8))},
    "aperture.cu": {"correlate_rgba": correlate_arguments(_plane(8, 8, 4), _plane(8, 8, 4),
                                                          _plane(9, 9))},
}

pytestmark = pytest.mark.skipif(NVCC is None, reason="nvcc not installed")


def test_every_kernel_file_is_known():
    assert set(KERNEL_FILES) == set(LAUNCHED)


@pytest.mark.parametrize("name", KERNEL_FILES)
def test_kernel_source_compiles_to_ptx(name, tmp_path):
    source = resources.files("livebokeh.render.cuda").joinpath(name)
    ptx = tmp_path / (name + ".ptx")
    done = subprocess.run([NVCC, "-ptx", "-arch=compute_80", "-Werror", "all-warnings",
                           "-o", str(ptx), str(source)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    text = ptx.read_text()
    for kernel, args in LAUNCHED[name].items():
        entry = re.search(rf"\.entry {kernel}\((.*?)\)", text, re.S)
        assert entry, f"{kernel} missing from {name}"
        params = re.findall(r"\.param\s+(\.\w+)", entry.group(1))
        assert params == [PTX_TYPE[type(arg)] for arg in args]
