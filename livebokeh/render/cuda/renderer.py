"""The renderers on an array device: written once for NumPy and CuPy, run on CUDA by CuPy.

``ArrayRenderer`` ports the CPU renderers (``render``, ``styles``, ``lens``, ``grain``) to
array operations where NumPy and CuPy agree, given the module as ``xp``. Its resizes, blurs
and warps are the OpenCV operations of the CPU path written as linear maps:

- a resize (INTER_AREA, INTER_LINEAR) or a 1-D blur (Gaussian with BORDER_REFLECT_101, box
  with a constant or replicated border) is a matrix per axis, built once per size on the
  host with OpenCV's own weights and applied as ``rows @ image @ cols.T`` (cuBLAS on GPU);
- a warp (the motion style's rotation, the radial style's log-polar maps) is a bilinear
  gather of four taps per pixel, with taps built once per geometry from the same
  coordinates OpenCV uses (1/32 px fixed point).

So the port computes the same numbers as the CPU path up to float rounding and the uint8
rounding the CPU path does between steps; with ``xp=numpy`` it runs here and is tested
against the CPU renderers.

Two steps are CUDA kernels (``*.cu`` beside this file, compiled by NVRTC through
``cupy.RawModule``) because as array expressions they would take many passes: the
full-resolution output (upsample, blend, grain in one pass: ``blend.cu``) and the lens
slices' aperture blur (``aperture.cu``). ``ArrayOps`` holds their array versions, the
oracle the GPU tests compare the kernels with; ``CudaOps`` swaps the kernels in.

``CudaRenderer`` keeps a frame on the device from upload to download: the frame (and the
matte and CoC, at whatever resolution the caller has them) go up once through pinned host
buffers on its own stream, the result comes down once into a pinned buffer and then into
``out``; all of them are cached by shape and reused between frames.
"""

from __future__ import annotations

import math
from functools import lru_cache
from importlib import resources

import cv2
import numpy as np

from livebokeh.render import lens, styles
from livebokeh.render.grain import TILE_MARGIN
from livebokeh.render.halo_free import HOLE_COVERAGE, background_weight, pyramid_level
from livebokeh.render.lens import (
    FALLBACK_WEIGHT,
    FILL_LEVELS,
    FOCUS_RADIUS,
    GAIN_SCALE,
    LINEAR_STEPS,
    MIN_COVERAGE,
    REACH_FACTOR,
)
from livebokeh.render.renderer import GRAIN_FULL_RADIUS, GrainState, background_job, require_coc

FIXED_POINT = 32  # OpenCV warps round coordinates to 1/32 px (INTER_TAB_SIZE)
MAX_CACHED = 64  # device copies of matrices, taps and tables kept per renderer
BLOCK = (16, 16)  # CUDA threads per block for the 2-D kernels


# --- host-side linear maps (OpenCV's weights), cached by size --------------------------------

@lru_cache(maxsize=64)
def area_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) float32 weights of a 1-D INTER_AREA resize (each row sums to 1)."""
    scale = n_in / n_out
    matrix = np.zeros((n_out, n_in), np.float32)
    for d in range(n_out):
        start, stop = d * scale, min((d + 1) * scale, n_in)
        for s in range(math.floor(start), math.ceil(stop)):
            matrix[d, s] = min(s + 1, stop) - max(s, start)
        matrix[d] /= matrix[d].sum()
    return matrix


@lru_cache(maxsize=64)
def linear_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) float32 weights of a 1-D INTER_LINEAR resize (centres aligned, edges
    clamped: OpenCV's rule)."""
    scale = n_in / n_out
    matrix = np.zeros((n_out, n_in), np.float32)
    for d in range(n_out):
        f = (d + 0.5) * scale - 0.5
        s = math.floor(f)
        t = f - s
        if s < 0:
            s, t = 0, 0.0
        if s >= n_in - 1:
            s, t = n_in - 1, 0.0
        matrix[d, s] += 1.0 - t
        matrix[d, min(s + 1, n_in - 1)] += t
    return matrix


@lru_cache(maxsize=64)
def halving_matrix(n: int, levels: int) -> np.ndarray:
    """``levels`` successive 2x INTER_AREA reductions (``imgops.halve``) as one matrix."""
    matrix = np.eye(n, dtype=np.float32)
    for _ in range(levels):
        size = matrix.shape[0]
        matrix = area_matrix(size, max(1, size // 2)) @ matrix
    return matrix


def _reflect_101(i: int, n: int) -> int:
    if n == 1:
        return 0
    period = 2 * (n - 1)
    i = abs(i) % period
    return period - i if i >= n else i


@lru_cache(maxsize=64)
def gaussian_matrix(n: int, sigma: float) -> np.ndarray:
    """(n, n) float32 1-D ``cv2.GaussianBlur`` of a float image (kernel 8 sigma + 1, odd;
    BORDER_REFLECT_101)."""
    size = round(sigma * 8 + 1) | 1
    taps = cv2.getGaussianKernel(size, sigma, cv2.CV_32F).ravel()
    matrix = np.zeros((n, n), np.float32)
    half = size // 2
    for i in range(n):
        for t in range(-half, half + 1):
            matrix[i, _reflect_101(i + t, n)] += taps[t + half]
    return matrix


@lru_cache(maxsize=64)
def box_matrix(n: int, box: int, replicate: bool) -> np.ndarray:
    """(n, n) float32 1-D box average of ``box`` (odd) pixels; outside the image: zeros
    (BORDER_CONSTANT) or the edge pixel (``replicate``)."""
    matrix = np.zeros((n, n), np.float32)
    half = box // 2
    for i in range(n):
        for j in range(i - half, i + half + 1):
            if 0 <= j < n:
                matrix[i, j] += 1.0 / box
            elif replicate:
                matrix[i, min(max(j, 0), n - 1)] += 1.0 / box
    return matrix


def bilinear_taps(map_x: np.ndarray, map_y: np.ndarray, src_h: int, src_w: int):
    """Bilinear gather of a warp: (indices int32 4xN, weights float32 4xN), N = map size.

    Indices point into the source padded by one pixel on each side (zeros: constant
    border; the edge: replicated border); taps further out are clamped onto that pad.
    Coordinates are rounded to 1/32 px like OpenCV's warps.
    """
    x = np.rint(map_x.astype(np.float64) * FIXED_POINT) / FIXED_POINT
    y = np.rint(map_y.astype(np.float64) * FIXED_POINT) / FIXED_POINT
    x0, y0 = np.floor(x), np.floor(y)
    tx, ty = (x - x0).astype(np.float32).ravel(), (y - y0).astype(np.float32).ravel()
    cols = [np.clip(x0 + d, -1, src_w).astype(np.int64).ravel() + 1 for d in (0, 1)]
    rows = [np.clip(y0 + d, -1, src_h).astype(np.int64).ravel() + 1 for d in (0, 1)]
    pitch = src_w + 2
    index = np.stack([rows[0] * pitch + cols[0], rows[0] * pitch + cols[1],
                      rows[1] * pitch + cols[0], rows[1] * pitch + cols[1]]).astype(np.int32)
    weight = np.stack([(1 - ty) * (1 - tx), (1 - ty) * tx, ty * (1 - tx), ty * tx])
    return index, weight.astype(np.float32)


@lru_cache(maxsize=16)
def rotation_geometry(width: int, height: int, angle_deg: float):
    """The motion style's rotation (``styles.line_blur``): canvas (w, h), forward taps (image →
    canvas, zero border) and backward taps (canvas → image, zero border)."""
    angle = math.radians(angle_deg)
    cos, sin = abs(math.cos(angle)), abs(math.sin(angle))
    canvas = (math.ceil(width * cos + height * sin), math.ceil(width * sin + height * cos))
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), -angle_deg, 1.0)
    matrix[:, 2] += ((canvas[0] - width) / 2, (canvas[1] - height) / 2)
    inverse = cv2.invertAffineTransform(matrix)

    def taps(affine, out_w, out_h, src_w, src_h):
        ys, xs = np.mgrid[0:out_h, 0:out_w].astype(np.float64)
        map_x = affine[0, 0] * xs + affine[0, 1] * ys + affine[0, 2]
        map_y = affine[1, 0] * xs + affine[1, 1] * ys + affine[1, 2]
        return bilinear_taps(map_x, map_y, src_h, src_w)

    return (canvas, taps(inverse, *canvas, width, height),
            taps(matrix, width, height, *canvas))


@lru_cache(maxsize=8)
def log_polar_geometry(width: int, height: int, centre: tuple[float, float], streak: float):
    """The radial style's warps (``styles.zoom_blur``): polar shape, forward taps (zero
    border), inverse taps (replicated border) and the box width along the log radius."""
    forward, inverse, step, max_radius = styles._log_polar_maps(width, height, centre)
    fx, fy = cv2.convertMaps(*forward, cv2.CV_32FC1)
    ix, iy = cv2.convertMaps(*inverse, cv2.CV_32FC1)
    log_width = 2 * math.asinh(streak / (2 * max_radius))
    return (fx.shape, bilinear_taps(fx, fy, height, width),
            bilinear_taps(ix, iy, *fx.shape), styles._odd_box(log_width / step))


@lru_cache(maxsize=32)
def focus_table(first_radius: float) -> np.ndarray:
    """``lens.focus_weight``'s ramp: uint8 weight per |coc| in 1/128ths of ``first_radius``."""
    steps = np.arange(256, dtype=np.float32) / (128.0 / first_radius)
    ramp = np.clip((first_radius - steps) / (first_radius - FOCUS_RADIUS), 0.0, 1.0)
    return np.rint(ramp * 255).astype(np.uint8)


# --- array operations ------------------------------------------------------------------------

class ArrayOps:
    """Resizes, blurs, warps and the fused output pass on ``xp`` arrays (NumPy or CuPy).

    Host-built matrices, taps and tables are copied to the device once and cached.
    """

    def __init__(self, xp):
        self.xp = xp
        self._cache: dict = {}

    def cached(self, key, build):
        """Device copy of the host array ``build()`` (NumPy), kept under ``key``."""
        value = self._cache.get(key)
        if value is None:
            if len(self._cache) >= MAX_CACHED:
                self._cache.clear()
            value = self._cache[key] = self.xp.asarray(build())
        return value

    @staticmethod
    def host(array) -> np.ndarray:
        """A small device array on the host (a copy for CuPy; NumPy arrays as they are)."""
        return array if isinstance(array, np.ndarray) else array.get()

    def resample(self, image, rows, cols):
        """``rows @ image @ cols.T`` over the two image axes of an h x w (x c) float32 image."""
        h = image.shape[0]
        out = (rows @ image.reshape(h, -1)).reshape((rows.shape[0],) + image.shape[1:])
        return out @ cols.T if image.ndim == 2 else self.xp.matmul(cols, out)

    def halve(self, image, levels: int):
        """``imgops.halve``: ``levels`` 2x area reductions (float32 result)."""
        image = image.astype(self.xp.float32, copy=False)
        if levels == 0:
            return image
        h, w = image.shape[:2]
        return self.resample(image, self.cached(("halve", h, levels), lambda: halving_matrix(
            h, levels)), self.cached(("halve", w, levels), lambda: halving_matrix(w, levels)))

    def area(self, image, size: tuple[int, int]):
        """INTER_AREA resize to ``size`` (h, w)."""
        (h, w), (th, tw) = image.shape[:2], size
        return self.resample(image, self.cached(("area", h, th), lambda: area_matrix(h, th)),
                             self.cached(("area", w, tw), lambda: area_matrix(w, tw)))

    def linear(self, image, size: tuple[int, int]):
        """INTER_LINEAR resize to ``size`` (h, w)."""
        (h, w), (th, tw) = image.shape[:2], size
        if (h, w) == (th, tw):
            return image
        return self.resample(image, self.cached(("linear", h, th), lambda: linear_matrix(h, th)),
                             self.cached(("linear", w, tw), lambda: linear_matrix(w, tw)))

    def resize(self, image, size: tuple[int, int]):
        """Area resize when shrinking, bilinear when growing (a low-res matte to a level)."""
        if image.shape[:2] == tuple(size):
            return image
        return self.area(image, size) if image.shape[0] > size[0] else self.linear(image, size)

    def gaussian(self, image, sigma: float):
        """``cv2.GaussianBlur(image, (0, 0), sigma)`` of a float32 image."""
        h, w = image.shape[:2]
        return self.resample(image, self.cached(("gauss", h, sigma), lambda: gaussian_matrix(
            h, sigma)), self.cached(("gauss", w, sigma), lambda: gaussian_matrix(w, sigma)))

    def box_rows(self, image, box: int, replicate: bool):
        """``styles.box_rows``: average each pixel with its ``box`` row neighbours."""
        w = image.shape[1]
        matrix = self.cached(("box", w, box, replicate), lambda: box_matrix(w, box, replicate))
        return self.xp.matmul(matrix, image)

    def warp(self, image, key, taps, size: tuple[int, int], replicate: bool):
        """Bilinear gather of an h x w x c image onto ``size`` (h, w) with ``bilinear_taps``."""
        xp = self.xp
        index = self.cached(key + ("index",), lambda: taps[0])
        weight = self.cached(key + ("weight",), lambda: taps[1])
        padded = xp.pad(image, ((1, 1), (1, 1), (0, 0)), mode="edge" if replicate else "constant")
        flat = padded.reshape(-1, image.shape[2])
        out = weight[0][:, None] * flat[index[0]]
        for k in range(1, 4):
            out += weight[k][:, None] * flat[index[k]]
        return out.reshape(size + image.shape[2:])

    def correlate(self, image, kernel: np.ndarray):
        """``cv2.filter2D(image, -1, kernel, borderType=BORDER_CONSTANT)``, h x w x 4 float32."""
        half = kernel.shape[0] // 2
        h, w = image.shape[:2]
        padded = self.xp.pad(image, ((half, half), (half, half), (0, 0)))
        out = self.xp.zeros_like(image)
        for i, j in zip(*np.nonzero(kernel), strict=True):
            out += float(kernel[i, j]) * padded[i:i + h, j:j + w]
        return out

    def blend_upsampled(self, sharp, low, weight, gain, amount, amount_offset: float,
                        amount_scale: float, noise, noise_yx: tuple[int, int],
                        grain_scale: float, out):
        """The output pass (``blend.cu``): ``out = w * sharp + (1 - w) * upsample(low)`` + grain.

        ``sharp``/``out`` h x w x 3 uint8; ``low`` uint8 RGB at any size; ``weight``,
        ``gain``, ``amount`` float32 planes at any size (bilinear). ``w = min(weight * gain,
        1)``; grain ``grain_scale * noise[y + dy, x + dx] * clip(amount_offset +
        amount_scale * |amount|, 0, 1)``, rounded and added with saturation.
        """
        xp = self.xp
        size = sharp.shape[:2]
        w = xp.minimum(self.linear(weight, size) * self.linear(gain, size), 1.0)[..., None]
        value = xp.rint(w * sharp + (1.0 - w) * self.linear(low.astype(xp.float32), size))
        xp.clip(value, 0.0, 255.0, out=value)
        if grain_scale != 0.0:
            a = xp.clip(amount_offset + amount_scale * xp.abs(self.linear(amount, size)), 0, 1)
            dy, dx = noise_yx
            g = (grain_scale * noise[dy:dy + size[0], dx:dx + size[1]] * a)[..., None]
            value = xp.minimum(value + xp.clip(xp.rint(g), 0, 255), 255.0)
            value = xp.maximum(value - xp.clip(xp.rint(-g), 0, 255), 0.0)
        out[...] = value.astype(xp.uint8)
        return out


class CudaOps(ArrayOps):
    """``ArrayOps`` with the output pass and the aperture blur as CUDA kernels (CuPy)."""

    def __init__(self, cupy):
        super().__init__(cupy)
        self._blend = cupy.RawModule(code=kernel_source("blend.cu")).get_function(
            "blend_upsampled")
        self._correlate = cupy.RawModule(code=kernel_source("aperture.cu")).get_function(
            "correlate_rgba")

    @staticmethod
    def _grid(height: int, width: int) -> tuple[int, int]:
        return (-(-width // BLOCK[0]), -(-height // BLOCK[1]))

    def correlate(self, image, kernel):
        xp = self.xp
        image = xp.ascontiguousarray(image, dtype=xp.float32)
        taps = self.cached(("taps", kernel.tobytes(), kernel.shape), lambda: kernel)
        out = xp.empty_like(image)
        self._correlate(self._grid(*image.shape[:2]), BLOCK, correlate_arguments(image, out, taps))
        return out

    def blend_upsampled(self, sharp, low, weight, gain, amount, amount_offset, amount_scale,
                        noise, noise_yx, grain_scale, out):
        xp = self.xp
        planes = [xp.ascontiguousarray(p, dtype=xp.float32) for p in (weight, gain, amount)]
        args = blend_arguments(sharp, xp.ascontiguousarray(low), *planes, amount_offset,
                               amount_scale, noise, noise_yx, grain_scale, out)
        self._blend(self._grid(*sharp.shape[:2]), BLOCK, args)
        return out


def blend_arguments(sharp, low, weight, gain, amount, amount_offset, amount_scale, noise,
                    noise_yx, grain_scale, out) -> tuple:
    """The argument list of ``blend_upsampled`` (``blend.cu``): arrays, int32 and float32."""
    args = [sharp, out, np.int32(sharp.shape[0]), np.int32(sharp.shape[1]), low,
            np.int32(low.shape[0]), np.int32(low.shape[1])]
    for plane in (weight, gain, amount):
        args += [plane, np.int32(plane.shape[0]), np.int32(plane.shape[1])]
    return tuple(args + [np.float32(amount_offset), np.float32(amount_scale), noise,
                         np.int32(noise.shape[1]), np.int32(noise_yx[0]),
                         np.int32(noise_yx[1]), np.float32(grain_scale)])


def correlate_arguments(image, out, taps) -> tuple:
    """The argument list of ``correlate_rgba`` (``aperture.cu``)."""
    return (image, out, np.int32(image.shape[0]), np.int32(image.shape[1]), taps,
            np.int32(taps.shape[0]))


def kernel_source(name: str) -> str:
    """The CUDA C source of a kernel file shipped in this package (``*.cu``)."""
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


# --- the renderer ------------------------------------------------------------------------------

class ArrayRenderer:
    """``backend.Renderer`` on ``ops.xp`` arrays: all styles, composite and grain.

    With ``ArrayOps(numpy)`` it runs on the CPU (the port under test); ``CudaRenderer`` runs
    it on the GPU.
    """

    name = "array"

    def __init__(self, ops: ArrayOps, video: bool = True, seed: int = 0):
        self.ops, self.xp = ops, ops.xp
        self.grain = GrainState(video, seed)
        self._noise = None  # device grain tile, drawn like grain.add_grain's

    # transfers: plain conversions here, pinned and on a stream in CudaRenderer
    def upload(self, name: str, array: np.ndarray):
        return self.xp.asarray(array)

    def output(self, shape):
        return self.xp.empty(shape, self.xp.uint8)

    def download(self, device, out: np.ndarray) -> np.ndarray:
        np.copyto(out, self.ops.host(device))
        return out

    def prepare(self, rgb, settings):
        """Nothing: every stage after the upload runs on the device."""
        return None

    def render(self, rgb, matte, settings, coc=None, out=None, prepared=None):
        height, width = rgb.shape[:2]
        out = np.empty_like(rgb) if out is None else out
        if settings.style == "lens":
            coc = require_coc(coc)
            job = None
        else:
            job = background_job(settings, width, height)
            if job is None:
                np.copyto(out, rgb)
                return out
        grain = self._grain(rgb, matte, settings)
        sharp = self.upload("rgb", rgb)
        matte_d = self.upload("matte", np.ascontiguousarray(matte, np.float32))
        result = self.output(rgb.shape)
        if job is None:
            coc_d = self.upload("coc", np.ascontiguousarray(coc, np.float32))
            self._lens(sharp, matte_d, coc_d, settings, grain, result)
        else:
            low = self.xp.clip(self.xp.rint(self._background(sharp, matte_d, *job)), 0, 255)
            ones = self.ops.cached(("ones",), lambda: np.ones((1, 1), np.float32))
            self.ops.blend_upsampled(sharp, low.astype(self.xp.uint8), matte_d, ones, matte_d,
                                     1.0, -1.0, *grain, result)
        return self.download(result, out)

    def _grain(self, rgb, matte, settings):
        """(noise tile, (dy, dx), signed sigma): the draws ``grain.add_grain`` makes."""
        sigma = self.grain.sigma(rgb, matte, settings)
        height, width = rgb.shape[:2]
        shape = (height + TILE_MARGIN, width + TILE_MARGIN)
        if sigma <= 0:
            return self.ops.cached(("no-noise",), lambda: np.zeros((1, 1), np.float32)), (0, 0), 0.0
        rng = self.grain.rng
        if self._noise is None or self._noise.shape != shape:
            self._noise = self.xp.asarray(rng.standard_normal(shape, np.float32))
        dy, dx = (int(v) for v in rng.integers(0, TILE_MARGIN + 1, 2))
        sign = 1.0 if rng.random() < 0.5 else -1.0
        return self._noise, (dy, dx), sign * sigma

    # --- 2-D styles ---------------------------------------------------------------------------

    def _level_inputs(self, sharp, matte, level: int):
        """The frame at pyramid ``level`` (float32 RGB) and its background weight there."""
        small = self.ops.halve(sharp, level)
        if matte.shape == sharp.shape[:2]:
            matte_low = self.ops.halve(matte, level)
        else:
            matte_low = self.ops.resize(matte, small.shape[:2])
        return small, background_weight(matte_low)

    def _background(self, sharp, matte, style: str, params):
        """Low-resolution halo-free background (float32 RGB 0..255) of a 2-D style."""
        height, width = sharp.shape[:2]
        if style == "gaussian":
            (sigma,) = params
            level = pyramid_level(sigma)
            return self._normalized(sharp, matte, level,
                                    lambda image: self.ops.gaussian(image, sigma / (1 << level)))
        if style == "motion":
            angle, length = params
            level = styles.work_level(width, height, length)
            return self._normalized(sharp, matte, level,
                                    self._line_blur(angle, length / (1 << level)))
        center, amount = params
        level = styles.work_level(width, height)
        low_w, low_h = max(1, width >> level), max(1, height >> level)
        centre = (round(center[0] * low_w - 0.5, 2), round(center[1] * low_h - 0.5, 2))
        streak = styles.zoom_streak(amount, width, height) / (1 << level)
        return self._normalized(sharp, matte, level, self._zoom_blur(centre, streak))

    def _normalized(self, sharp, matte, level: int, blur):
        """``styles.normalized_background``: blur premultiplied colour and weight together."""
        small, weight = self._level_inputs(sharp, matte, level)
        rgbw = self.xp.concatenate([small * weight[..., None], 255.0 * weight[..., None]], axis=2)
        blurred = blur(rgbw)
        return self.push_pull_fill(blurred[..., :3], blurred[..., 3] * (1.0 / 255.0))

    def _line_blur(self, angle_deg: float, length: float):
        box = styles._odd_box(length)

        def blur(image):
            h, w = image.shape[:2]
            canvas, forward, backward = rotation_geometry(w, h, float(angle_deg))
            key = ("rotate", w, h, float(angle_deg))
            rotated = self.ops.warp(image, key + ("fwd",), forward, canvas[::-1], False)
            rotated = self.ops.box_rows(rotated, box, replicate=False)
            return self.ops.warp(rotated, key + ("back",), backward, (h, w), False)

        return blur

    def _zoom_blur(self, centre: tuple[float, float], streak: float):
        def blur(image):
            h, w = image.shape[:2]
            shape, forward, inverse, box = log_polar_geometry(w, h, centre, streak)
            key = ("polar", w, h, centre, streak)
            polar = self.ops.warp(image, key + ("fwd",), forward, shape, False)
            polar = self.ops.box_rows(polar, box, replicate=True)
            return self.ops.warp(polar, key + ("inv",), inverse, (h, w), True)

        return blur

    def push_pull_fill(self, premult, coverage):
        """``render.push_pull_fill`` (straight colour where coverage is low, from around)."""
        xp = self.xp
        h, w = coverage.shape
        if min(h, w) <= 2 or float(coverage.min()) >= HOLE_COVERAGE:
            return premult / xp.maximum(coverage, 1e-6)[..., None]
        size = (max(1, h // 2), max(1, w // 2))
        coarse = self.ops.area(xp.concatenate([premult, coverage[..., None]], axis=2), size)
        coarse_pre, coarse_cov = coarse[..., :3], coarse[..., 3]
        boosted = xp.minimum(coarse_cov * 4.0, 1.0)
        coarse_pre = coarse_pre * (boosted / xp.maximum(coarse_cov, 1e-6))[..., None]
        filled = self.ops.linear(self.push_pull_fill(coarse_pre, boosted), (h, w))
        return premult + (1.0 - coverage)[..., None] * filled

    # --- lens ----------------------------------------------------------------------------------

    def _lens(self, sharp, matte, coc, settings, grain, result):
        """``lens.lens_blur`` then grain, into ``result`` (device uint8 frame)."""
        xp, ops = self.xp, self.ops
        h, w = sharp.shape[:2]
        coc = ops.resize(coc, (h, w))
        matte = ops.resize(matte, (h, w))
        lowest, highest = float(coc.min()), float(coc.max())
        amount_args = (coc, 0.0, 1.0 / GRAIN_FULL_RADIUS, *grain, result)
        ones = ops.cached(("ones",), lambda: np.ones((1, 1), np.float32))
        if max(-lowest, highest) <= FOCUS_RADIUS:
            return ops.blend_upsampled(sharp, sharp, ones, ones, *amount_args)
        gain_h = lens.HIGHLIGHT_GAIN  # what the CPU path uses
        base = lens.base_level(w, h)
        first = float(1 << base)
        focus8 = self._focus_weight(coc, matte, first)
        decode = ops.cached(("decode", gain_h), lambda: lens._decode_table(gain_h))
        linear = ops.halve(decode[sharp], base)
        focus = ops.halve(focus8, base) * (1.0 / 255.0)
        layer, gain = self._blurred_layer(linear, ops.halve(coc, base), focus, first, base,
                                          settings.blades, settings.blade_rotation)
        encode = ops.cached(("encode", gain_h), lambda: lens._encode_table(gain_h))
        index = xp.clip(xp.rint(layer * float(LINEAR_STEPS) + 0.5), 0, 65535).astype(xp.int32)
        gain8 = xp.clip(xp.rint(gain * GAIN_SCALE), 0, 255) * (1.0 / GAIN_SCALE)
        weight = focus8 * (1.0 / 255.0)
        return ops.blend_upsampled(sharp, encode[index], weight, gain8, *amount_args)

    def _focus_weight(self, coc, matte, first: float):
        """``lens.focus_weight`` as float32 0..255 at frame size."""
        xp = self.xp
        table = self.ops.cached(("focus", first), lambda: focus_table(first))
        steps = xp.minimum(xp.rint(xp.abs(coc) * (128.0 / first)), 255).astype(xp.int32)
        weight = table[steps]
        weight = xp.maximum(weight, xp.clip(xp.rint(matte * 255.0), 0, 255).astype(xp.uint8))
        return weight.astype(xp.float32)

    def _blurred_layer(self, linear, coc, focus, first, base, blades, rotation_deg):
        """``lens._blurred_layer``: far and near fields at level ``base`` → (layer, gain)."""
        xp = self.xp
        rest = 1.0 - focus
        far_share = rest * (coc > 0)
        radius = xp.abs(coc)
        lowest, highest = float(coc.min()), float(coc.max())
        if highest > FOCUS_RADIUS:
            field = self._render_field(linear, far_share, radius, lens.slice_radii(first, highest),
                                       base, blades, rotation_deg, nearer_first=False)
            premult, coverage = field[..., :3], xp.minimum(field[..., 3], 1.0)
            filled = self._fill(premult, coverage)
        else:
            premult, coverage, filled = xp.zeros_like(linear), xp.zeros_like(focus), linear
        behind = coverage + focus * (1.0 - coverage)
        if -lowest > FOCUS_RADIUS:
            field = self._render_field(linear, rest - far_share, radius,
                                       lens.slice_radii(first, -lowest), base, blades,
                                       rotation_deg, nearer_first=True)
            near, near_coverage = field[..., :3], xp.minimum(field[..., 3], 1.0)
            clear = 1.0 - near_coverage
            gain = clear / xp.maximum(near_coverage + clear * behind, MIN_COVERAGE)
            premult = near + premult * clear[..., None]
            coverage = near_coverage + clear * coverage
        else:
            gain = 1.0 / xp.maximum(behind, MIN_COVERAGE)
        layer = (premult + FALLBACK_WEIGHT * filled) / (coverage + FALLBACK_WEIGHT)[..., None]
        return layer, gain

    def _fill(self, premult, coverage):
        """``lens._fill``: push-pull at ``FILL_LEVELS`` halvings, upsampled to the level."""
        filled = self.push_pull_fill(self.ops.halve(premult, FILL_LEVELS),
                                     self.ops.halve(coverage, FILL_LEVELS))
        return self.ops.linear(filled, coverage.shape)

    def _reach(self, membership, margin: float):
        """``lens._reach``: the field's bounding box grown by ``margin`` px, or None."""
        inside = membership > 0
        rows = np.flatnonzero(self.ops.host(inside.any(axis=1)))
        cols = np.flatnonzero(self.ops.host(inside.any(axis=0)))
        if rows.size == 0:
            return None
        h, w = membership.shape
        grow = math.ceil(margin)
        return (slice(max(0, rows[0] - grow), min(h, rows[-1] + 1 + grow)),
                slice(max(0, cols[0] - grow), min(w, cols[-1] + 1 + grow)))

    def _field_pyramid(self, linear, membership, radius, levels: int):
        """``lens._field_pyramid``: zero-padded premultiplied (RGB, coverage) and radius sums."""
        xp = self.xp
        h, w = membership.shape
        step = 1 << levels
        pad = ((0, -(-h // step) * step - h), (0, -(-w // step) * step - w))
        colour = xp.concatenate([linear * membership[..., None], membership[..., None]], axis=2)
        pyramid = [(xp.pad(colour, pad + ((0, 0),)), xp.pad(radius * membership, pad))]
        for _ in range(levels):
            pyramid.append(tuple(self._halve_exact(image) for image in pyramid[-1]))
        return pyramid

    @staticmethod
    def _halve_exact(image):
        h, w = image.shape[:2]
        return image.reshape((h // 2, 2, w // 2, 2) + image.shape[2:]).mean(axis=(1, 3))

    def _render_field(self, linear, membership, radius, radii, base, blades, rotation_deg,
                      nearer_first):
        """``lens.render_field``: one field, slice by slice → premultiplied RGB + coverage."""
        xp = self.xp
        levels = [lens.slice_level(r, base) for r in radii]
        top = max(levels)
        region = self._reach(membership, radii[-1] / (1 << base) * REACH_FACTOR
                             + (1 << (top - base)))
        field = xp.zeros(membership.shape + (4,), xp.float32)
        if region is None:
            return field
        pyramid = self._field_pyramid(linear[region], membership[region], radius[region],
                                      top - base)
        accumulated = None
        for level in range(top, base - 1, -1):
            colour, radius_sum = pyramid[level - base]
            if accumulated is not None:
                accumulated = self.ops.linear(accumulated, colour.shape[:2])
            slices = [k for k in range(len(radii) - 1, -1, -1) if levels[k] == level]
            if not slices:
                continue
            coverage = xp.maximum(colour[..., 3], MIN_COVERAGE)
            position = self._slice_position(radius_sum / coverage, radii)
            for k in slices:
                weight = xp.maximum(1.0 - xp.abs(position - float(k)), 0.0)
                kernel = lens.scatter_kernel(radii[k] / (1 << level), blades, rotation_deg)
                blurred = self.ops.correlate(colour * weight[..., None], kernel)
                accumulated = blurred if accumulated is None else self._stack(
                    accumulated, blurred, nearer_first)
        rh, rw = field[region].shape[:2]
        field[region] = accumulated[:rh, :rw]
        return field

    def _slice_position(self, radius, radii):
        """``lens.slice_position``: continuous slice index, linear in log radius."""
        if len(radii) == 1:
            return self.xp.zeros_like(radius)
        step = math.log(radii[1] / radii[0])
        position = self.xp.log(self.xp.maximum(radius, radii[0]) * (1.0 / radii[0])) / step
        return self.xp.minimum(position, float(len(radii) - 1))

    @staticmethod
    def _stack(accumulated, blurred, nearer_first: bool):
        """``lens._stack``: a blurred slice over (far field) or under (near field) the rest."""
        front, back = (accumulated, blurred) if nearer_first else (blurred, accumulated)
        return back * (1.0 - front[..., 3:4]) + front


class CudaRenderer(ArrayRenderer):
    """``ArrayRenderer`` on the GPU with CuPy: fused kernels, pinned transfers, one stream.

    Device and pinned host buffers for the frame, matte, CoC and result are cached by
    name, shape and dtype, so a stream of equal-sized frames allocates nothing after the
    first frame (intermediates come from CuPy's memory pool).
    """

    name = "cuda"

    def __init__(self, video: bool = True, seed: int = 0, fused: bool = True):
        import cupy

        self.cupy = cupy
        self.stream = cupy.cuda.Stream(non_blocking=True)
        super().__init__(CudaOps(cupy) if fused else ArrayOps(cupy), video, seed)
        self._pinned: dict = {}
        self._device: dict = {}

    def _buffers(self, name: str, shape, dtype):
        key = (name, tuple(shape), np.dtype(dtype).str)
        if key not in self._device:
            for old in [k for k in self._device if k[0] == name]:
                del self._device[old], self._pinned[old]
            memory = self.cupy.cuda.alloc_pinned_memory(
                max(1, int(np.prod(shape))) * np.dtype(dtype).itemsize)
            self._pinned[key] = np.ndarray(shape, dtype=dtype, buffer=memory)
            self._device[key] = self.cupy.empty(shape, dtype)
        return self._pinned[key], self._device[key]

    def upload(self, name, array):
        pinned, device = self._buffers(name, array.shape, array.dtype)
        np.copyto(pinned, array)
        device.set(pinned, stream=self.stream)
        return device

    def output(self, shape):
        return self._buffers("out", shape, np.uint8)[1]

    def download(self, device, out):
        pinned = self._buffers("out", device.shape, device.dtype)[0]
        device.get(stream=self.stream, out=pinned)  # blocking: waits for the stream
        np.copyto(out, pinned)
        return out

    def render(self, rgb, matte, settings, coc=None, out=None, prepared=None):
        with self.stream:
            return super().render(rgb, matte, settings, coc, out)


def self_test() -> None:
    """Compile the kernels and run one small blend on the GPU; raises if anything fails."""
    import cupy

    ops = CudaOps(cupy)
    sharp = cupy.full((4, 4, 3), 200, cupy.uint8)
    low = cupy.zeros((2, 2, 3), cupy.uint8)
    half = cupy.full((1, 1), 0.5, cupy.float32)
    out = cupy.empty_like(sharp)
    ops.blend_upsampled(sharp, low, half, cupy.ones((1, 1), cupy.float32), half, 0.0, 0.0,
                        cupy.zeros((1, 1), cupy.float32), (0, 0), 0.0, out)
    if int(out.max()) != 100 or int(out.min()) != 100:
        raise RuntimeError(f"test blend gave {int(out.min())}..{int(out.max())}, not 100")
