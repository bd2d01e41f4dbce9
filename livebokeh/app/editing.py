"""The photo editor's model: open photos, their settings and brush strokes, preview, export.

``Editor`` holds the open photos (``PhotoEdit``); ``app.editor`` puts it behind HTTP. The
expensive perception runs once per photo, when it is opened: the automatic matte
(``BokehProcessor.perceive`` + ``matte_from``, exactly as ``livebokeh photo`` computes it)
and the depth map (the same estimator call as ``render.dof``). Every later change, a slider
or a brush stroke, renders only a screen-sized preview from those (``preview``): the photo,
matte and brush mask at the preview size go through a ``BokehProcessor`` as a given matte,
refine mask and depth map, so the preview runs the very renderer the export runs.

The full-size render runs only on ``export``, again as a given matte, mask and depth on a
fresh ``BokehProcessor``: the output equals what ``livebokeh photo IN --config SIDECAR``
makes from the sidecar and the refine-mask PNG written beside it (a test checks the round
trip). Everything an export writes lands in the editor's export folder, under names checked
to be plain file names there (no folders, no links, no hidden files).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import threading
from pathlib import Path

import cv2
import numpy as np

from livebokeh.app.config import sidecar_path
from livebokeh.errors import LivebokehError
from livebokeh.io.atomic import atomic_output, check_input_file, check_outputs
from livebokeh.io.images import (
    ALPHA_FORMATS,
    MAX_MEGAPIXELS,
    ImageTooLarge,
    output_format,
    peek_size,
    read_photo,
    read_photo_data,
    write_grey,
    write_image,
)
from livebokeh.matte.brush import Stroke, blank_mask, paint, refine_mask, to_refine_mask
from livebokeh.matte.refine import apply_refine_mask
from livebokeh.perception.depth import open_depth_estimator
from livebokeh.pipeline import BokehProcessor
from livebokeh.settings import TRANSPARENT, BokehSettings, parse_background

# What the page may change, with the type each value is coerced to.
EDIT_FIELDS = {"style": str, "strength": float, "blades": int, "blade_rotation": float,
               "grain": str, "background": str, "focus": str, "near_blur": bool,
               "angle": float, "center": tuple}
# BokehSettings field → the ``livebokeh photo`` option it is saved as in the sidecar.
SIDECAR_OPTIONS = {"style": "style", "strength": "strength", "grain": "grain",
                   "background": "background", "blades": "blades",
                   "blade_rotation": "blade-rotation", "focus": "focus",
                   "near_blur": "near-blur", "angle": "angle", "center": "center",
                   "people": "people"}
EXPORT_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
MASK_SUFFIX = ".refine.png"  # portrait-bokeh.jpg → portrait-bokeh.refine.png beside it
MAX_NAME = 200  # characters of an export file name
DEFAULT_QUALITY = 92  # JPEG/WebP, as ``livebokeh photo --quality``
PREVIEW_STEP = 256  # pixels: preview sizes are multiples of this (fewer rebuilds on resize)
# Pixels: long side of a preview. The cap keeps a change within the 150 ms the issue asks
# for on a high-DPI screen too: 12-MP photo, change + preview over HTTP on this machine,
# median / p95 at 1280 px 41-63 / 52-105 ms, at 1536 px 70 / 122 ms, at 2048 px 124 / 253 ms.
PREVIEW_MIN, PREVIEW_MAX = 512, 1536
PREVIEW_QUALITY = 85  # JPEG quality of previews: 1280x960 encodes in about 3 ms here
THUMB_SIDE = 160  # pixels: long side of a thumbnail in the strip
# Memory per pixel to open, preview and export a photo (the peak is the full-size export):
# peak RSS growth in a fresh process on a 12-megapixel photo, model loads included
# (scripts/measure_editor_memory.py): gaussian, motion, radial 65, lens 87 bytes per pixel.
BYTES_PER_PIXEL = 90
MATTE_TINT = np.array([255, 40, 40], np.float32)  # the matte view tints what is blurred red
TINT_SHARE = 0.55  # how much of a fully blurred pixel the tint replaces in the matte view
CHECKER = 16  # pixels: squares behind a transparent preview


class NotFound(LivebokehError):
    """No open photo has this id (HTTP 404)."""


class Exists(LivebokehError):
    """An export would replace existing files and the request did not say so (HTTP 409)."""


class TooLarge(LivebokehError):
    """The photo does not fit in memory (HTTP 413)."""


class NotAvailable(LivebokehError):
    """A feature this build does not have yet (HTTP 501)."""


def available_memory() -> int | None:
    """Bytes of memory the system can give now (Linux MemAvailable), or None if unknown."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def coerce(field: str, value):
    """A page's JSON value as the type of the BokehSettings field (LivebokehError if not)."""
    kind = EDIT_FIELDS[field]
    try:
        if kind is tuple:
            if isinstance(value, str):
                value = value.split(",")
            x, y = (float(v) for v in value)
            return (x, y)
        if kind is bool and not isinstance(value, bool):
            raise ValueError("expected true or false")
        if kind is int and float(value) != int(float(value)):
            raise ValueError("expected a whole number")
        return kind(float(value)) if kind is int else kind(value)
    except (TypeError, ValueError) as exc:
        raise LivebokehError(f"bad value for {field}: {value!r} ({exc})") from None


def absolute_background(value: str) -> str:
    """A background image path made absolute (the sidecar must not depend on the server's
    working folder); other values (blur, transparent, colours) as they are."""
    spec = parse_background(value)
    return str(spec.path.resolve()) if spec.path is not None else value


def settings_json(settings: BokehSettings) -> dict:
    """The editable settings as JSON-ready data (what the page shows)."""
    values = {field: getattr(settings, field) for field in EDIT_FIELDS}
    values["center"] = list(settings.center)
    values["people"] = settings.people
    values["subject"] = list(settings.subject) if settings.subject else None
    return values


def sidecar_values(settings: BokehSettings, quality: int, mask_name: str | None,
                   depth_model: str | None) -> dict:
    """The sidecar: ``livebokeh photo`` option names → values (``--config`` JSON)."""
    values = {option: getattr(settings, field) for field, option in SIDECAR_OPTIONS.items()}
    values["center"] = f"{settings.center[0]:g},{settings.center[1]:g}"
    if settings.subject is not None:
        values["subject"] = f"{settings.subject[0]:g},{settings.subject[1]:g}"
    values["quality"] = quality
    if mask_name is not None:
        values["mask"] = mask_name  # relative: read beside the sidecar
    if depth_model is not None:
        values["depth-model"] = str(Path(depth_model).resolve())
    return values


def encode_jpeg(rgb: np.ndarray, quality: int = PREVIEW_QUALITY) -> bytes:
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, quality])
    return data.tobytes()


def fit(width: int, height: int, long_side: int) -> tuple[int, int]:
    """(w, h) scaled so the long side is ``long_side`` (never enlarged)."""
    scale = min(1.0, long_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def over_checkerboard(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``rgb`` with ``alpha`` over grey squares: how a transparent result shows on screen."""
    height, width = alpha.shape
    ys, xs = np.ogrid[:height, :width]
    board = np.where(((ys // CHECKER + xs // CHECKER) % 2)[..., None] == 0, 205, 155)
    a = alpha[..., None].astype(np.float32) * np.float32(1.0 / 255.0)
    return (rgb * a + board * (1.0 - a)).astype(np.uint8)


def matte_view(rgb: np.ndarray, matte: np.ndarray) -> np.ndarray:
    """``rgb`` tinted red where the matte blurs (1 - matte): the matte overlay view."""
    blurred = (1.0 - matte)[..., None] * np.float32(TINT_SHARE)
    return (rgb + (MATTE_TINT - rgb) * blurred).astype(np.uint8)


@dataclasses.dataclass
class Preview:
    """One photo at a screen size: the image, its automatic matte and the brush paint layer
    (float32 0..255 and as the uint8 refine mask), rebuilt when the size changes."""

    long_side: int
    rgb: np.ndarray
    matte: np.ndarray
    paint: np.ndarray
    mask: np.ndarray


class PhotoEdit:
    """One open photo: pixels, automatic matte and depth (computed once), settings, strokes.

    Methods that change it hold ``lock``; the server calls them from worker threads.
    """

    def __init__(self, photo_id: str, name: str, source: Path | None, rgb: np.ndarray,
                 alpha: np.ndarray | None, icc: bytes | None, matte: np.ndarray,
                 depth: np.ndarray | None, settings: BokehSettings):
        self.id, self.name, self.source = photo_id, name, source
        self.rgb, self.alpha, self.icc = rgb, alpha, icc
        self.matte, self.depth = matte, depth
        self.settings = settings
        self.strokes: list[Stroke] = []
        self.undone: list[Stroke] = []
        self.lock = threading.Lock()
        self._preview: Preview | None = None
        width, height = fit(rgb.shape[1], rgb.shape[0], THUMB_SIDE)
        self.thumbnail = encode_jpeg(cv2.resize(rgb, (width, height),
                                                interpolation=cv2.INTER_AREA))

    @property
    def size(self) -> tuple[int, int]:
        return self.rgb.shape[1], self.rgb.shape[0]

    def default_export_name(self, suffix: str = ".jpg") -> str:
        stem = Path(self.name).stem or "photo"
        return f"{stem}-bokeh{suffix}"

    def info(self) -> dict:
        return {"id": self.id, "name": self.name, "width": self.size[0],
                "height": self.size[1], "source": str(self.source) if self.source else None,
                "settings": settings_json(self.settings), "strokes": len(self.strokes),
                "undone": len(self.undone), "export_name": self.default_export_name()}

    def forget_preview(self) -> None:
        """Drop the preview cache (the matte changed): the next preview is made again."""
        self._preview = None

    def update(self, changes: dict) -> None:
        """Apply setting ``changes`` (field → JSON value); nothing changes if one is bad."""
        unknown = set(changes) - set(EDIT_FIELDS)
        if unknown:
            raise LivebokehError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        values = {field: coerce(field, value) for field, value in changes.items()}
        if "background" in values:
            values["background"] = absolute_background(values["background"])
        with self.lock:
            try:
                self.settings = dataclasses.replace(self.settings, **values)
            except (TypeError, ValueError) as exc:
                raise LivebokehError(f"invalid setting: {exc}") from None

    # -- strokes ------------------------------------------------------------------------------

    def add_stroke(self, stroke: Stroke) -> None:
        with self.lock:
            self.strokes.append(stroke)
            self.undone.clear()
            self._paint(stroke)

    def undo(self) -> None:
        with self.lock:
            if self.strokes:
                self.undone.append(self.strokes.pop())
                self._repaint()

    def redo(self) -> None:
        with self.lock:
            if self.undone:
                stroke = self.undone.pop()
                self.strokes.append(stroke)
                self._paint(stroke)

    def _paint(self, stroke: Stroke) -> None:
        if self._preview is not None:
            paint(self._preview.paint, stroke)
            to_refine_mask(self._preview.paint, self._preview.mask)

    def _repaint(self) -> None:
        if self._preview is not None:
            self._preview.paint.fill(128)
            for stroke in self.strokes:
                paint(self._preview.paint, stroke)
            to_refine_mask(self._preview.paint, self._preview.mask)

    def refine_mask(self) -> np.ndarray | None:
        """The strokes as a full-size uint8 refine mask, or None when there are none."""
        if not self.strokes:
            return None
        return refine_mask(self.strokes, *self.size)

    # -- preview ------------------------------------------------------------------------------

    def preview(self, long_side: int) -> Preview:
        """The photo at ``long_side`` pixels (call with ``lock`` held); built on first use."""
        width, height = fit(*self.size, long_side)
        if self._preview is None or self._preview.rgb.shape[:2] != (height, width):
            rgb = cv2.resize(self.rgb, (width, height), interpolation=cv2.INTER_AREA)
            matte = cv2.resize(self.matte, (width, height), interpolation=cv2.INTER_AREA)
            layer = blank_mask(width, height)
            self._preview = Preview(long_side, rgb, matte, layer, to_refine_mask(layer))
            self._repaint()
        return self._preview


def preview_side(requested) -> int:
    """The preview long side for a page's request: a multiple of ``PREVIEW_STEP`` at least
    as large, within ``PREVIEW_MIN`` .. ``PREVIEW_MAX``."""
    try:
        value = float(requested)
    except (TypeError, ValueError):
        raise LivebokehError(f"preview size must be a number of pixels, got {requested!r}") \
            from None
    if not math.isfinite(value):
        raise LivebokehError("preview size must be finite")
    steps = math.ceil(max(value, 1) / PREVIEW_STEP)
    return int(min(PREVIEW_MAX, max(PREVIEW_MIN, steps * PREVIEW_STEP)))


class Editor:
    """The open photos and what the editor does with them (no HTTP here: ``app.editor``).

    ``out_dir``: where exports go (names given to ``export`` are plain file names in it).
    ``memory_bytes``: the memory photos may use; None: what the system has available when
    each photo is opened. ``depth_model``: an ONNX depth model path (None: the resolver's).
    """

    def __init__(self, out_dir: Path, memory_bytes: int | None = None, backend: str = "auto",
                 depth_model: str | None = None):
        self.out_dir = Path(out_dir).expanduser()
        if not self.out_dir.is_dir():
            raise LivebokehError(f"export folder does not exist: {self.out_dir}")
        self.memory_bytes = memory_bytes
        self.defaults = BokehSettings(backend=backend, depth_model=depth_model)
        self.depth_model = depth_model
        self.photos: dict[str, PhotoEdit] = {}
        self._ids = 0
        self._lock = threading.Lock()  # the photo list
        self._perceive_lock = threading.Lock()
        self._render_lock = threading.Lock()
        self._perceiver: BokehProcessor | None = None
        self._previewer: BokehProcessor | None = None
        self._depth_estimator = None
        self._depth_loaded = False

    def close(self) -> None:
        for processor in (self._perceiver, self._previewer):
            if processor is not None:
                processor.close()

    def __enter__(self) -> Editor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- opening ------------------------------------------------------------------------------

    def pixel_limit(self) -> tuple[int, str]:
        """(most pixels a photo may have now, why: one line naming the memory behind it)."""
        memory = self.memory_bytes if self.memory_bytes is not None else available_memory()
        decoder = MAX_MEGAPIXELS * 10**6
        if memory is None or memory // BYTES_PER_PIXEL >= decoder:
            return decoder, f"{MAX_MEGAPIXELS} megapixels (what the image decoder takes)"
        limit = memory // BYTES_PER_PIXEL
        return limit, (f"{limit / 1e6:.2g} megapixels ({memory / 2**30:.1f} GiB of memory "
                       f"free, about {BYTES_PER_PIXEL} bytes per pixel to edit and export)")

    def _check_size(self, source, name: str) -> None:
        """Refuse a photo too large for memory from its header, before decoding it."""
        limit, why = self.pixel_limit()
        try:
            width, height = peek_size(source, name)
        except ImageTooLarge:
            raise TooLarge(f"{name}: over {MAX_MEGAPIXELS} megapixels, too large for memory; "
                           f"the limit here is {why}") from None
        if width * height > limit:
            raise TooLarge(f"{name}: {width}x{height} ({width * height / 1e6:.2g} megapixels) "
                           f"is too large for memory; the limit here is {why}")

    def open_path(self, path) -> PhotoEdit:
        """Open a photo file (one-line LivebokehError for anything that is not a photo)."""
        path = Path(str(path)).expanduser()
        for photo in list(self.photos.values()):
            if photo.source is not None and photo.source == path.resolve():
                return photo
        check_input_file(path, "an image")
        self._check_size(path, str(path))
        rgb, alpha, icc = read_photo(path)
        return self._add(path.name, path.resolve(), rgb, alpha, icc)

    def open_data(self, data: bytes, name: str) -> PhotoEdit:
        """Open an uploaded photo (its bytes and file name), kept in memory only."""
        name = Path(str(name).replace("\\", "/")).name or "photo"
        if not data:
            raise LivebokehError(f"input is empty (0 bytes): {name}")
        self._check_size(data, name)
        rgb, alpha, icc = read_photo_data(data, name)
        return self._add(name, None, rgb, alpha, icc)

    def _add(self, name, source, rgb, alpha, icc) -> PhotoEdit:
        matte = self._auto_matte(rgb)
        depth = self._depth(rgb)
        with self._lock:
            self._ids += 1
            photo = PhotoEdit(f"p{self._ids}", name, source, rgb, alpha, icc, matte, depth,
                              self.defaults)
            self.photos[photo.id] = photo
        return photo

    def _auto_matte(self, rgb: np.ndarray, settings: BokehSettings | None = None) -> np.ndarray:
        """The automatic matte (float32 0..1, photo size), as ``livebokeh photo`` makes it
        with ``settings``' people mode and subject (default: the editor's defaults)."""
        settings = settings or self.defaults
        with self._perceive_lock:
            if self._perceiver is None:
                self._perceiver = BokehProcessor(self.defaults, video=False)
            perceiver = self._perceiver
            perceiver.update_settings(dataclasses.replace(
                perceiver.settings, people=settings.people, subject=settings.subject))
            return perceiver.matte_from(rgb, perceiver.perceive(rgb)).copy()

    def _depth(self, rgb: np.ndarray) -> np.ndarray | None:
        """Normalised inverse depth at the model's size, as ``render.dof`` gets it for a
        photo; None without a depth model (the lens style then says so once)."""
        with self._perceive_lock:
            if not self._depth_loaded:
                self._depth_estimator = open_depth_estimator(self.depth_model)
                self._depth_loaded = True
            estimator = self._depth_estimator
            if estimator is None:
                return None
            return estimator.estimate(rgb, size=estimator.adapter.size[::-1])

    def photo(self, photo_id: str) -> PhotoEdit:
        photo = self.photos.get(photo_id)
        if photo is None:
            raise NotFound(f"no open photo '{photo_id}'")
        return photo

    def close_photo(self, photo_id: str) -> None:
        with self._lock:
            self.photo(photo_id)
            del self.photos[photo_id]

    # -- people ------------------------------------------------------------------------------

    def pick_person(self, photo_id: str, x: float, y: float) -> dict:
        """Keep only the person at (x, y) (fractions of width and height) sharp."""
        if not (0 <= x <= 1 and 0 <= y <= 1):
            raise LivebokehError(f"the point must be inside the photo, got {x}, {y}")
        return self.set_people(photo_id, "main", (x, y))

    def set_people(self, photo_id: str, people: str, subject=None) -> dict:
        """Everyone sharp (``all``) or one person (``main``): the matte is made again, as
        ``livebokeh photo --people ... --subject X,Y`` makes it."""
        photo = self.photo(photo_id)
        with photo.lock:
            settings = dataclasses.replace(photo.settings, people=people, subject=subject)
        matte = self._auto_matte(photo.rgb, settings)
        with photo.lock:
            photo.settings, photo.matte = settings, matte
            photo.forget_preview()
        return photo.info()

    # -- settings for all -----------------------------------------------------------------------

    def apply_to_all(self, photo_id: str) -> list[dict]:
        """Give every open photo the settings of ``photo_id``; a focus point stays per photo
        (it names a place in one picture), and strokes are never copied."""
        source = self.photo(photo_id).settings
        point = "," in source.focus
        for photo in list(self.photos.values()):
            if photo.id != photo_id:
                with photo.lock:
                    focus = photo.settings.focus if point else source.focus
                    photo.settings = dataclasses.replace(source, focus=focus)
        return [photo.info() for photo in self.photos.values()]

    # -- preview --------------------------------------------------------------------------------

    def preview(self, photo_id: str, long_side: int, view: str = "result") -> bytes:
        """A JPEG of the photo at ``long_side`` pixels: the result, the ``matte`` view (red
        where it blurs) or the ``original``."""
        photo = self.photo(photo_id)
        if view not in ("result", "matte", "original"):
            raise LivebokehError(f"view must be result, matte or original, got '{view}'")
        with self._render_lock, photo.lock:
            preview = photo.preview(long_side)
            if view == "original":
                return encode_jpeg(preview.rgb)
            if view == "matte":
                matte = apply_refine_mask(preview.matte.copy(), preview.mask)
                return encode_jpeg(matte_view(preview.rgb, matte))
            return encode_jpeg(self._render_preview(photo, preview))

    def _render_preview(self, photo: PhotoEdit, preview: Preview) -> np.ndarray:
        settings = dataclasses.replace(photo.settings, matte=preview.matte,
                                       refine_mask=preview.mask, depth_map=photo.depth)
        if self._previewer is None:
            self._previewer = BokehProcessor(settings, video=False)
        else:
            self._previewer.update_settings(settings)
        result = self._previewer.process(preview.rgb)
        if result.alpha is not None:
            return over_checkerboard(result.image, result.alpha)
        return result.image

    # -- export ---------------------------------------------------------------------------------

    def export_target(self, name) -> Path:
        """``out_dir / name`` for a plain file name with an image extension (else an error).

        No folders, no ``..``, no hidden or partial names and no links: nothing is written
        outside the export folder whatever the page sends.
        """
        name = str(name).strip()
        plain = (name and len(name) <= MAX_NAME and not name.startswith(".")
                 and not any(c in name for c in "/\\\0:") and Path(name).name == name)
        if not plain:
            raise LivebokehError(f"export name must be a plain file name such as "
                                 f"portrait-bokeh.jpg (exports go to {self.out_dir}), "
                                 f"got '{name[:MAX_NAME]}'")
        if Path(name).suffix.lower() not in EXPORT_SUFFIXES:
            raise LivebokehError(f"export as {', '.join(EXPORT_SUFFIXES)}, not '{name}'")
        target = self.out_dir / name
        if target.resolve().parent != self.out_dir.resolve():
            raise LivebokehError(f"export name leaves the export folder: {name}")
        return target

    def _check_outputs(self, outputs: list[Path], overwrite: bool) -> None:
        """No link among ``outputs``, none an input, and none existing unless ``overwrite``."""
        links = [path.name for path in outputs if path.is_symlink()]
        if links:
            raise LivebokehError(f"will not write through a link: {', '.join(links)}")
        existing = [path.name for path in outputs if path.exists()]
        if existing and not overwrite:
            raise Exists(f"already exists in {self.out_dir}: {', '.join(existing)}")
        check_outputs(outputs, [photo.source for photo in list(self.photos.values())])

    def export(self, photo_id: str, name: str, quality: int = DEFAULT_QUALITY,
               overwrite: bool = False) -> dict:
        """Render ``photo_id`` at full size into the export folder as ``name``, with its
        brush strokes as ``NAME.refine.png`` and its settings as ``NAME.livebokeh.json``.

        Raises ``Exists`` if one of those files exists and ``overwrite`` is false.
        """
        photo = self.photo(photo_id)
        target = self.export_target(name)
        if not 1 <= int(quality) <= 100:
            raise LivebokehError(f"quality must be 1..100, got {quality}")
        with photo.lock:
            settings, mask = photo.settings, photo.refine_mask()
        if settings.background == TRANSPARENT and output_format(target) not in ALPHA_FORMATS:
            raise LivebokehError("a transparent background needs a .png or .webp export")
        mask_path = target.with_name(target.stem + MASK_SUFFIX) if mask is not None else None
        sidecar = sidecar_path(target)
        self._check_outputs([path for path in (target, mask_path, sidecar) if path], overwrite)
        full = dataclasses.replace(settings, matte=photo.matte, refine_mask=mask,
                                   depth_map=photo.depth)
        with BokehProcessor(full, video=False) as processor:  # fresh: grain as the CLI's
            result = processor.process(photo.rgb)
        write_image(target, result.image, photo.alpha if result.alpha is None else result.alpha,
                    int(quality), photo.icc)
        if mask_path is not None:
            write_grey(mask_path, mask)
        values = sidecar_values(settings, int(quality), mask_path.name if mask_path else None,
                                self.depth_model)
        with atomic_output(sidecar) as tmp:
            tmp.write_text(json.dumps(values, indent=2) + "\n")
        return {"output": str(target), "mask": str(mask_path) if mask_path else None,
                "sidecar": str(sidecar), "bytes": target.stat().st_size,
                "width": photo.size[0], "height": photo.size[1]}
