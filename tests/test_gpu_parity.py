"""CUDA renderer against the CPU renderers and the exact lens reference (needs CuPy and a GPU).

Skipped unless ``backend.cuda_problem()`` finds CuPy, a device and a working test kernel.
Synthetic RGB-D scenes (``livebokeh.synthetic``) at a size where the pyramid levels are
used (854x481: odd sides, lens base level 1).
"""

from __future__ import annotations

import numpy as np
import pytest

from livebokeh.eval.metrics import psnr
from livebokeh.eval.reference import reference_lens_blur
from livebokeh.eval.synthetic import SUBJECT_DEPTH, make_scene
from livebokeh.render.backend import FallbackRenderer, cuda_problem, select_backend
from livebokeh.render.cpu import CpuRenderer
from livebokeh.render.halo_free import blur_radius
from livebokeh.settings import BokehSettings

PROBLEM = cuda_problem()
pytestmark = pytest.mark.skipif(PROBLEM is not None, reason=f"no CUDA backend: {PROBLEM}")

STYLES = [dict(style="gaussian", strength=60), dict(style="gaussian", strength=100),
          dict(style="motion", strength=60, angle=30), dict(style="radial", strength=70),
          dict(style="lens", strength=60), dict(style="lens", strength=90, blades=6,
                                                blade_rotation=10)]


def scene_coc(inv_depth: np.ndarray, strength: float) -> np.ndarray:
    r_max = blur_radius(strength, inv_depth.shape[1], inv_depth.shape[0])
    return np.clip((SUBJECT_DEPTH - inv_depth) * (r_max / 0.4), -r_max, r_max).astype(np.float32)


@pytest.fixture(scope="module")
def scene():
    return make_scene(854, 481, seed=4)


def cuda_renderer(**kwargs):
    from livebokeh.render.cuda.renderer import CudaRenderer

    return CudaRenderer(**kwargs)


def assert_close(expected, got, min_psnr=40.0):
    assert np.abs(expected.astype(np.int16) - got).mean() <= 1.0
    assert psnr(expected, got) >= min_psnr


def test_auto_selects_cuda():
    name, reason = select_backend("auto")
    assert name == "cuda" and reason.startswith("cuda: ")


@pytest.mark.parametrize("options", STYLES, ids=lambda o: "-".join(map(str, o.values())))
def test_cuda_matches_cpu(scene, options):
    rgb, depth, matte = scene
    settings = BokehSettings(grain="off", **options)
    coc = scene_coc(depth, settings.strength)
    cpu = CpuRenderer().render(rgb, matte, settings, coc)
    gpu = cuda_renderer().render(rgb, matte, settings, coc)
    assert psnr(cpu, rgb) < 30  # the style did blur
    assert_close(cpu, gpu)


@pytest.mark.parametrize("strength,blades", [(40, 0), (90, 6)])
def test_cuda_lens_matches_reference(scene, strength, blades):
    rgb, depth, matte = scene
    settings = BokehSettings(style="lens", strength=strength, blades=blades, blade_rotation=10,
                             grain="off")
    coc = scene_coc(depth, strength)
    gpu = cuda_renderer().render(rgb, matte, settings, coc)
    reference = reference_lens_blur(rgb, coc, blades=blades, rotation_deg=10)
    assert psnr(reference, gpu) >= 32.0


@pytest.mark.parametrize("style", ["gaussian", "lens"])
def test_cuda_grain_and_low_resolution_inputs_match_cpu(scene, style):
    import cv2

    rgb, depth, matte = scene
    settings = BokehSettings(style=style, strength=70, grain=60)
    small_matte = cv2.resize(matte, (256, 144), interpolation=cv2.INTER_AREA)
    small_coc = cv2.resize(scene_coc(depth, 70), (320, 192), interpolation=cv2.INTER_AREA)
    cpu, gpu = CpuRenderer(seed=3), cuda_renderer(seed=3)
    for _ in range(3):
        assert_close(cpu.render(rgb, small_matte, settings, small_coc),
                     gpu.render(rgb, small_matte, settings, small_coc))


@pytest.mark.parametrize("options", STYLES[::2], ids=lambda o: o["style"])
def test_fused_kernels_match_their_array_versions(scene, options):
    rgb, depth, matte = scene
    settings = BokehSettings(grain=50, **options)
    coc = scene_coc(depth, settings.strength)
    fused = cuda_renderer(seed=1).render(rgb, matte, settings, coc)
    plain = cuda_renderer(seed=1, fused=False).render(rgb, matte, settings, coc)
    assert np.abs(fused.astype(np.int16) - plain).max() <= 1
    assert psnr(fused, plain) >= 50.0


def test_buffers_are_reused_between_frames(scene):
    rgb, depth, matte = scene
    settings = BokehSettings(style="lens", strength=60, grain="off")
    coc = scene_coc(depth, 60)
    renderer = cuda_renderer()
    first = renderer.render(rgb, matte, settings, coc).copy()
    buffers = {key: value.data.ptr for key, value in renderer._device.items()}
    out = np.empty_like(rgb)
    assert renderer.render(rgb, matte, settings, coc, out) is out
    np.testing.assert_array_equal(out, first)
    assert {key: value.data.ptr for key, value in renderer._device.items()} == buffers


def test_out_of_memory_falls_back_to_cpu(scene):
    import cupy

    rgb, _, matte = scene
    settings = BokehSettings(strength=50, grain="off")
    renderer = FallbackRenderer(cuda_renderer(), CpuRenderer())
    pool = cupy.cuda.MemoryPool()
    pool.set_limit(size=1 << 20)  # 1 MiB: the frame does not fit
    previous = cupy.cuda.get_allocator()
    cupy.cuda.set_allocator(pool.malloc)
    try:
        got = renderer.render(rgb, matte, settings)
    finally:
        cupy.cuda.set_allocator(previous)
    assert renderer.name == "cpu"
    np.testing.assert_array_equal(got, CpuRenderer().render(rgb, matte, settings))
