"""Backend choice, the CPU renderer adapter, the fallback to CPU, and the array port of the
renderers (``livebokeh.render.cuda.renderer`` run with NumPy) against the CPU renderers.

No GPU here: CuPy is blocked in a subprocess to check the selection, the fallback is driven
by a primary renderer that fails the way a GPU does, and the device code runs on NumPy.
"""

from __future__ import annotations

import logging
import math
import subprocess
import sys
import textwrap

import cv2
import numpy as np
import pytest

from livebokeh.errors import LivebokehError
from livebokeh.eval.metrics import psnr
from livebokeh.eval.synthetic import SUBJECT_DEPTH, make_scene
from livebokeh.render.backend import FallbackRenderer, make_renderer, select_backend
from livebokeh.render.cpu import CpuRenderer
from livebokeh.render.cuda.renderer import (
    ArrayOps,
    ArrayRenderer,
    area_matrix,
    box_matrix,
    gaussian_matrix,
    linear_matrix,
    rotation_geometry,
)
from livebokeh.render.grain import Grain
from livebokeh.render.halo_free import blur_radius, composite, gaussian_background
from livebokeh.render.lens import lens_blur
from livebokeh.render.renderer import background_job
from livebokeh.render.styles import motion_background, radial_background
from livebokeh.settings import BokehSettings

STYLES = [dict(style="gaussian", strength=60), dict(style="motion", strength=50, angle=30),
          dict(style="motion", strength=50, angle=90, length=120.0),
          dict(style="radial", strength=70, center=(0.4, 0.6)),
          dict(style="lens", strength=70), dict(style="lens", strength=70, blades=6,
                                                blade_rotation=10)]


def scene_coc(inv_depth: np.ndarray, strength: float) -> np.ndarray:
    """Signed CoC (px, > 0 far) of the synthetic scene, focused on its subject."""
    r_max = blur_radius(strength, inv_depth.shape[1], inv_depth.shape[0])
    return np.clip((SUBJECT_DEPTH - inv_depth) * (r_max / 0.4), -r_max, r_max).astype(np.float32)


@pytest.fixture(scope="module", params=[(320, 240), (333, 201)], ids=["320x240", "333x201"])
def scene(request):
    rgb, depth, matte = make_scene(*request.param, seed=1)
    return rgb, matte, scene_coc(depth, 70)


# --- selection ------------------------------------------------------------------------------

BLOCKED_CUPY = textwrap.dedent("""
    import sys
    sys.modules["cupy"] = None  # any 'import cupy' now raises ImportError
    from livebokeh.render.backend import select_backend
    from livebokeh.errors import LivebokehError
    print(repr(select_backend("auto")))
    try:
        select_backend("cuda")
    except LivebokehError as error:
        print("ERROR", str(error))
""")


def test_auto_selects_cpu_with_reason_when_cupy_is_missing():
    done = subprocess.run([sys.executable, "-c", BLOCKED_CUPY], capture_output=True, text=True,
                          timeout=120, check=True)
    lines = done.stdout.strip().splitlines()
    name, reason = eval(lines[0])  # the repr of a tuple of two strings
    assert name == "cpu"
    assert reason.startswith("cpu: CuPy not installed") and "livebokeh[gpu]" in reason
    assert lines[1].startswith("ERROR --backend cuda is not available: CuPy not installed")
    assert len(lines) == 2  # the error message is one line


def test_explicit_cpu_and_unknown_backend():
    assert select_backend("cpu")[0] == "cpu"
    with pytest.raises(LivebokehError, match="unknown backend 'metal'"):
        select_backend("metal")
    assert isinstance(make_renderer("cpu"), CpuRenderer)


# --- CPU adapter ------------------------------------------------------------------------------

def expected_cpu(rgb, matte, settings, coc, seed):
    """The frame as the CPU functions render it when called one by one."""
    out = np.empty_like(rgb)
    grain = Grain(settings.grain / 100.0 * 10.0, np.random.default_rng(seed))
    if settings.style == "lens":
        return lens_blur(rgb, coc, matte, blades=settings.blades,
                         rotation_deg=settings.blade_rotation, out=out, grain=grain)
    style, params = background_job(settings, rgb.shape[1], rgb.shape[0])
    blur = {"gaussian": gaussian_background, "motion": motion_background,
            "radial": radial_background}[style]
    return composite(rgb, matte, blur(rgb, matte, *params), out, grain=grain)


@pytest.mark.parametrize("options", STYLES, ids=lambda o: "-".join(map(str, o.values())))
def test_cpu_renderer_is_the_cpu_functions(scene, options):
    rgb, matte, coc = scene
    settings = BokehSettings(grain=30, **options)
    got = CpuRenderer(seed=7).render(rgb, matte, settings, coc)
    np.testing.assert_array_equal(got, expected_cpu(rgb, matte, settings, coc, seed=7))


def test_cpu_renderer_resizes_low_resolution_matte_and_coc(scene):
    rgb, matte, coc = scene
    h, w = rgb.shape[:2]
    small_matte = cv2.resize(matte, (w // 3, h // 3), interpolation=cv2.INTER_AREA)
    small_coc = cv2.resize(coc, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    settings = BokehSettings(style="lens", strength=70, grain="off")
    got = CpuRenderer().render(rgb, small_matte, settings, small_coc)
    full = [cv2.resize(p, (w, h), interpolation=cv2.INTER_LINEAR) for p in (small_matte,
                                                                            small_coc)]
    upsampled = CpuRenderer().render(rgb, full[0], settings, full[1])
    # the matte is upsampled as is; a low-resolution CoC is used at the blur's resolution
    # (never made at frame size), which differs from upsampling it only by interpolation
    assert psnr(got, upsampled) >= 45.0
    assert np.abs(got.astype(np.int16) - upsampled).mean() < 0.5


def test_nothing_to_blur_returns_the_frame(scene):
    rgb, matte, _ = scene
    settings = BokehSettings(strength=0, grain=50)
    for renderer in (CpuRenderer(), ArrayRenderer(ArrayOps(np))):
        np.testing.assert_array_equal(renderer.render(rgb, matte, settings), rgb)


def test_lens_without_coc_is_an_error(scene):
    rgb, matte, _ = scene
    with pytest.raises(LivebokehError, match="CoC"):
        CpuRenderer().render(rgb, matte, BokehSettings(style="lens"))


# --- fallback ---------------------------------------------------------------------------------

class DeviceLost(RuntimeError):
    """Stands in for cupy.cuda.runtime.CUDARuntimeError (no GPU here)."""


class FailingGpu:
    """A primary renderer at the hardware boundary: renders on the CPU, then loses its device."""

    name = "cuda"

    def __init__(self, fail_on_call: int):
        self.calls, self.fail_on_call = 0, fail_on_call
        self.inner = CpuRenderer()

    def prepare(self, rgb, settings):
        return None

    def render(self, rgb, matte, settings, coc=None, out=None, prepared=None):
        self.calls += 1
        if self.calls >= self.fail_on_call:
            raise DeviceLost("cudaErrorLaunchFailure: unspecified launch failure")
        return self.inner.render(rgb, matte, settings, coc, out)


def test_fallback_rerenders_the_failing_frame_on_cpu_and_stays_there(scene, caplog):
    rgb, matte, _ = scene
    settings = BokehSettings(strength=50, grain="off")
    gpu = FailingGpu(fail_on_call=2)
    renderer = FallbackRenderer(gpu, CpuRenderer(), errors=(DeviceLost,))
    expected = CpuRenderer().render(rgb, matte, settings)
    frames = [rgb, rgb[::-1].copy(), rgb]
    with caplog.at_level(logging.WARNING, logger="livebokeh"):
        results = [renderer.render(f, matte, settings, out=np.empty_like(rgb)) for f in frames]
    np.testing.assert_array_equal(results[0], expected)
    np.testing.assert_array_equal(results[1], CpuRenderer().render(frames[1], matte, settings))
    np.testing.assert_array_equal(results[2], expected)
    assert gpu.calls == 2  # not asked again after it failed
    assert renderer.name == "cpu"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "cudaErrorLaunchFailure" in warnings[0]
    assert "\n" not in warnings[0]


def test_fallback_lets_other_errors_through(scene):
    rgb, matte, _ = scene
    renderer = FallbackRenderer(FailingGpu(fail_on_call=1), CpuRenderer(), errors=(KeyError,))
    with pytest.raises(DeviceLost):
        renderer.render(rgb, matte, BokehSettings())


# --- the array port (the CUDA renderer's code) on NumPy ----------------------------------------

def random_image(shape, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, shape).astype(np.float32)


@pytest.mark.parametrize("n_in,n_out", [(333, 166), (201, 100), (97, 31), (40, 97), (5, 12)])
def test_resize_matrices_are_opencv(n_in, n_out):
    image = random_image((n_in, 7))
    size = (7, n_out)
    interpolation = cv2.INTER_AREA if n_out < n_in else cv2.INTER_LINEAR
    matrix = (area_matrix if n_out < n_in else linear_matrix)(n_in, n_out)
    np.testing.assert_allclose(matrix @ image, cv2.resize(image, size,
                                                          interpolation=interpolation),
                               atol=2e-3)


@pytest.mark.parametrize("n,sigma", [(60, 2.5), (9, 3.0), (1, 1.0)])
def test_gaussian_matrix_is_opencv(n, sigma):
    image = random_image((n, 5))
    expected = cv2.GaussianBlur(image, (0, 0), sigmaX=0.01, sigmaY=sigma)  # rows only
    np.testing.assert_allclose(gaussian_matrix(n, sigma) @ image, expected, atol=2e-3)


@pytest.mark.parametrize("replicate", [False, True])
def test_box_matrix_is_opencv(replicate):
    image = random_image((4, 50))
    border = cv2.BORDER_REPLICATE if replicate else cv2.BORDER_CONSTANT
    expected = cv2.blur(image, (15, 1), borderType=border)
    np.testing.assert_allclose(image @ box_matrix(50, 15, replicate).T, expected, atol=2e-3)


def test_rotation_taps_are_opencv_warp():
    image = cv2.GaussianBlur(random_image((40, 60, 4)), (0, 0), 2.0)  # blurred content
    canvas, forward, _ = rotation_geometry(60, 40, 30.0)
    got = ArrayOps(np).warp(image, ("t",), forward, canvas[::-1], replicate=False)
    matrix = cv2.getRotationMatrix2D((30, 20), -30.0, 1.0)
    matrix[:, 2] += ((canvas[0] - 60) / 2, (canvas[1] - 40) / 2)
    expected = cv2.warpAffine(image, matrix, canvas, flags=cv2.INTER_LINEAR)
    # OpenCV rounds its coordinates to 1/32 px; a half-pixel misalignment would give ~5 here
    assert np.abs(got - expected).mean() < 0.1


@pytest.mark.parametrize("options", STYLES, ids=lambda o: "-".join(map(str, o.values())))
def test_array_port_matches_cpu(scene, options):
    rgb, matte, coc = scene
    settings = BokehSettings(grain="off", **options)
    cpu = CpuRenderer().render(rgb, matte, settings, coc)
    port = ArrayRenderer(ArrayOps(np)).render(rgb, matte, settings, coc)
    assert psnr(cpu, rgb) < 30  # the style did blur
    assert np.abs(cpu.astype(np.int16) - port).mean() <= 1.0
    assert psnr(cpu, port) >= 40.0


@pytest.mark.parametrize("style", ["gaussian", "lens"])
def test_array_port_grain_and_low_resolution_inputs_match_cpu(scene, style):
    rgb, matte, coc = scene
    h, w = rgb.shape[:2]
    small_matte = cv2.resize(matte, (w // 3, h // 3), interpolation=cv2.INTER_AREA)
    small_coc = cv2.resize(coc, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    settings = BokehSettings(style=style, strength=70, grain=60)
    cpu, port = CpuRenderer(seed=3), ArrayRenderer(ArrayOps(np), seed=3)
    for _ in range(2):  # the second frame reuses the grain tile at a new offset
        expected = cpu.render(rgb, small_matte, settings, small_coc)
        got = port.render(rgb, small_matte, settings, small_coc)
        assert np.abs(expected.astype(np.int16) - got).mean() <= 1.0
        assert psnr(expected, got) >= 40.0
    grainless = CpuRenderer().render(rgb, small_matte, BokehSettings(
        style=style, strength=70, grain="off"), small_coc)
    assert math.isfinite(psnr(grainless, got))  # the grain is there
