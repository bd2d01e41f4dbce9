"""Photos in and out: reading any common image into RGB (+ alpha), writing by extension.

Reading applies EXIF orientation and brings greyscale, palette, CMYK and 16-bit images to
8-bit RGB; an alpha channel is returned separately so PNG/WebP outputs keep it. Writing goes
through ``atomic_output``: the target appears complete or not at all.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from livebokeh.atomic import atomic_output, check_output_path
from livebokeh.errors import LivebokehError
from livebokeh.settings import BokehSettings

READ_EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}
WRITE_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP",
                 ".bmp": "BMP", ".tif": "TIFF", ".tiff": "TIFF"}
ALPHA_FORMATS = {"PNG", "WEBP", "TIFF"}


def _open_checked(path: Path) -> Image.Image:
    """Open and fully decode ``path`` with Pillow, turning every failure into one line."""
    path = Path(path)
    if not path.exists():
        raise LivebokehError(f"input not found: {path}")
    if path.is_dir():
        raise LivebokehError(f"input is a folder, not an image: {path}")
    if path.stat().st_size == 0:
        raise LivebokehError(f"input is empty (0 bytes): {path}")
    if path.suffix.lower() not in READ_EXTENSIONS:
        raise LivebokehError(
            f"unsupported image type '{path.suffix}' (use {', '.join(sorted(READ_EXTENSIONS))})"
        )
    try:
        image = Image.open(path)
        image.load()  # decode now: truncated files fail here, not later
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise LivebokehError(f"cannot read image {path}: {exc}") from None
    return ImageOps.exif_transpose(image)


def _to_8bit(array: np.ndarray) -> np.ndarray:
    """Scale 16-bit or 32-bit integer/float samples to uint8."""
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.uint16:
        return (array >> 8).astype(np.uint8)
    if np.issubdtype(array.dtype, np.floating):
        return np.clip(array * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return np.clip(array >> 8, 0, 255).astype(np.uint8)  # Pillow's 32-bit "I" mode


def _pillow_to_rgba(image: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    mode = image.mode
    has_alpha = mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info)
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        grey = _to_8bit(np.asarray(image))
        return np.repeat(grey[..., None], 3, axis=2), None
    converted = image.convert("RGBA" if has_alpha else "RGB")
    array = np.asarray(converted)
    if has_alpha:
        return np.ascontiguousarray(array[..., :3]), np.ascontiguousarray(array[..., 3])
    return np.ascontiguousarray(array), None


def _read_16bit_colour(path: Path) -> np.ndarray | None:
    """16-bit colour PNG/TIFF, which Pillow cannot decode to RGB losslessly; None if not one."""
    data = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if data is None or data.dtype != np.uint16 or data.ndim != 3:
        return None
    return data


def read_image(path: str | Path) -> tuple[np.ndarray, np.ndarray | None]:
    """RGB uint8 HxWx3 and alpha (uint8 HxW, or None) of an image file, upright per EXIF."""
    path = Path(path)
    image = _open_checked(path)
    if image.mode in ("RGB", "RGBA") and path.suffix.lower() in (".png", ".tif", ".tiff"):
        deep = _read_16bit_colour(path)
        if deep is not None:  # 16-bit colour: Pillow would have clipped it to 8 bits
            alpha = _to_8bit(deep[..., 3]) if deep.shape[2] == 4 else None
            rgb = cv2.cvtColor(_to_8bit(deep[..., :3]), cv2.COLOR_BGR2RGB)
            return rgb, alpha
    return _pillow_to_rgba(image)


def read_grey(path: str | Path, size: tuple[int, int]) -> np.ndarray:
    """An 8-bit greyscale version of an image (mask or matte), resized to ``size`` (w, h)."""
    rgb, _ = read_image(path)
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    if grey.shape[::-1] != tuple(size):
        grey = cv2.resize(grey, size, interpolation=cv2.INTER_LINEAR)
    return grey


def output_format(path: Path) -> str:
    """Pillow format name for an output path, or a one-line error for an unknown extension."""
    fmt = WRITE_FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise LivebokehError(
            f"unsupported output type '{Path(path).suffix}' "
            f"(use {', '.join(sorted(WRITE_FORMATS))})"
        )
    return fmt


def write_image(path: str | Path, rgb: np.ndarray, alpha: np.ndarray | None = None,
                quality: int = 92) -> None:
    """Write RGB (+ alpha where the format keeps it) by extension, atomically."""
    path = Path(path)
    fmt = output_format(path)
    if alpha is not None and fmt in ALPHA_FORMATS:
        image = Image.fromarray(np.dstack([rgb, alpha]), "RGBA")
    else:
        image = Image.fromarray(rgb, "RGB")
    options = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
    with atomic_output(path) as tmp:
        image.save(tmp, format=fmt, **options)


def write_matte(path: str | Path, matte: np.ndarray) -> None:
    """Write a float 0..1 matte as an 8-bit greyscale PNG (255 = subject), atomically."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise LivebokehError(f"--save-matte writes PNG; use a .png name, not {path.name}")
    grey = cv2.convertScaleAbs(matte, alpha=255.0)
    with atomic_output(path) as tmp:
        Image.fromarray(grey, "L").save(tmp, format="PNG")


def process_photo(input_path, output, settings: BokehSettings, mask_path=None,
                  matte_path=None, save_matte=None, quality: int = 92, depth_map_path=None,
                  depth_kind: str = "inverse", save_coc=None, save_depth=None) -> None:
    """The ``livebokeh photo`` job: validate everything, blur, write outputs atomically.

    ``depth_map_path``/``depth_kind``: bring-your-own depth (``depth.load_depth_map``).
    ``save_coc`` (.npy/.tiff, float32 pixels) and ``save_depth`` (16-bit PNG) need the lens
    style.
    """
    from livebokeh.coc import save_coc as write_coc
    from livebokeh.depth import load_depth_map, save_depth_png
    from livebokeh.pipeline import BokehProcessor

    input_path, output = Path(input_path), Path(output)
    output_format(output)
    check_output_path(output, input_path)
    if save_matte is not None:
        save_matte = Path(save_matte)
        if save_matte.suffix.lower() != ".png":
            raise LivebokehError(f"--save-matte writes PNG; use a .png name, not {save_matte.name}")
        check_output_path(save_matte, input_path, output)
    for extra in (save_coc, save_depth):
        if extra is not None:
            if settings.style != "lens":
                raise LivebokehError("--save-coc and --save-depth need --style lens")
            check_output_path(Path(extra), input_path, output)
    rgb, alpha = read_image(input_path)
    size = (rgb.shape[1], rgb.shape[0])
    if mask_path is not None:
        settings.refine_mask = read_grey(mask_path, size)
    if matte_path is not None:
        settings.matte = read_grey(matte_path, size)
    if depth_map_path is not None:
        settings.depth_map = load_depth_map(depth_map_path, depth_kind, size)
    with BokehProcessor(settings, video=False) as processor:
        result = processor.process(rgb)
        write_image(output, result.image, alpha, quality)
        if save_matte is not None:
            write_matte(save_matte, result.matte)
        if save_coc is not None:
            write_coc(save_coc, result.coc)
        if save_depth is not None and result.depth is not None:
            save_depth_png(save_depth, cv2.resize(result.depth, size))
        elif save_depth is not None:
            raise LivebokehError("--save-depth: no depth was used (no depth model or map)")
