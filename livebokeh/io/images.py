"""Photos in and out: reading any common image into RGB (+ alpha), writing by extension.

Reading applies EXIF orientation and brings greyscale, palette, CMYK and 16-bit images to
8-bit RGB; an alpha channel is returned separately so PNG/WebP/TIFF outputs keep it, and an
RGB ICC profile is carried to the output so wide-gamut photos keep their colours. Outputs are
encoded in memory (``encode_*``) and written with ``write_files_atomic``: they appear complete
or not at all, and a failed write is one line naming the file and the cause.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from livebokeh.errors import LivebokehError
from livebokeh.io.atomic import check_input_file, write_files_atomic

READ_EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}
WRITE_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP",
                 ".bmp": "BMP", ".tif": "TIFF", ".tiff": "TIFF"}
ALPHA_FORMATS = {"PNG", "WEBP", "TIFF"}
ICC_FORMATS = {"JPEG", "PNG", "WEBP", "TIFF"}
MAX_MEGAPIXELS = 2 * Image.MAX_IMAGE_PIXELS // 10**6  # Pillow refuses larger images (179)
# What Pillow's decoders raise on damaged or foreign files.
DECODE_ERRORS = (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError)


class ImageTooLarge(LivebokehError):
    """More pixels than Pillow decodes (``MAX_MEGAPIXELS``: a decompression-bomb guard)."""


def _open_checked(path: Path) -> Image.Image:
    """Open and fully decode ``path`` with Pillow, upright per EXIF; every failure is one line.

    Decoding happens here (``load``) so that a truncated file fails now instead of giving grey
    pixels later; Pillow's ``LOAD_TRUNCATED_IMAGES`` stays off.
    """
    path = Path(path)
    check_input_file(path, "an image")
    return _decode(path, path)


def _check_suffix(name: Path) -> None:
    if name.suffix.lower() not in READ_EXTENSIONS:
        raise LivebokehError(f"unsupported image type '{name.suffix}': {name.name} "
                             f"(use {', '.join(sorted(READ_EXTENSIONS))})")


def _decode(source: Path | BinaryIO, name: Path) -> Image.Image:
    """Decode ``source`` (a path or an open binary file called ``name``), upright per EXIF."""
    _check_suffix(name)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # 90..179 MP is fine
            with Image.open(source) as image:
                image.load()
                ImageOps.exif_transpose(image, in_place=True)
    except Image.DecompressionBombError:
        raise ImageTooLarge(f"image too large (over {MAX_MEGAPIXELS} megapixels): "
                            f"{name}") from None
    except DECODE_ERRORS as exc:
        raise LivebokehError(f"cannot read image {name}: {_one_line(exc)}") from None
    return image


def peek_size(source: Path | bytes, name: str | Path | None = None) -> tuple[int, int]:
    """(width, height) in pixels from the file header alone, nothing decoded.

    ``source`` is a path or the file's bytes (``name``: its file name, for the type check and
    messages). Lets a caller refuse a photo too large for memory before decoding it; the EXIF
    orientation may swap the two, the pixel count stays.
    """
    name = Path(name if name is not None else source)
    _check_suffix(name)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as image:
                return image.size
    except Image.DecompressionBombError:
        raise ImageTooLarge(f"image too large (over {MAX_MEGAPIXELS} megapixels): "
                            f"{name}") from None
    except DECODE_ERRORS as exc:
        raise LivebokehError(f"cannot read image {name}: {_one_line(exc)}") from None


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, UnidentifiedImageError):  # its text names a path or a BytesIO object
        return "not an image Pillow can decode (or the file is damaged)"
    return " ".join(str(exc).split()) or type(exc).__name__


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
    """8-bit RGB and alpha (or None) from any Pillow mode.

    Pillow itself takes the high byte of 16-bit colour PNG/TIFF samples; 16/32-bit greyscale
    and float modes are scaled here.
    """
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        grey = _to_8bit(np.asarray(image))
        return np.repeat(grey[..., None], 3, axis=2), None
    has_alpha = mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info)
    try:
        array = np.asarray(image.convert("RGBA" if has_alpha else "RGB"))
    except ValueError as exc:  # e.g. LAB or HSV TIFFs
        raise LivebokehError(f"cannot convert a {mode} image to RGB: {exc}") from None
    if has_alpha:
        return np.ascontiguousarray(array[..., :3]), np.ascontiguousarray(array[..., 3])
    return array, None


def rgb_icc_profile(image: Image.Image) -> bytes | None:
    """The embedded ICC profile if it describes RGB (so it still fits the RGB output), else None.

    Keeping it keeps the colours of wide-gamut photos (Display P3, Adobe RGB) right; a CMYK or
    grey profile would be wrong once the pixels are RGB, so it is dropped.
    """
    icc = image.info.get("icc_profile")
    return icc if icc and icc[16:20] == b"RGB " else None


def read_image(path: str | Path) -> tuple[np.ndarray, np.ndarray | None]:
    """RGB uint8 HxWx3 and alpha (uint8 HxW, or None) of an image file, upright per EXIF."""
    return _pillow_to_rgba(_open_checked(path))


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


def encode_image(path: str | Path, rgb: np.ndarray, alpha: np.ndarray | None = None,
                 quality: int = 92, icc_profile: bytes | None = None) -> bytes:
    """RGB (+ alpha where the format keeps it) encoded in the format ``path``'s extension names.

    ``quality`` 1..100 applies to JPEG and WebP; ``icc_profile`` (an RGB profile from the
    input) is embedded where the format can carry one.
    """
    fmt = output_format(Path(path))
    if alpha is not None and fmt in ALPHA_FORMATS:
        image = Image.fromarray(np.dstack([rgb, alpha]), "RGBA")
    else:
        image = Image.fromarray(rgb, "RGB")
    options = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
    if icc_profile is not None and fmt in ICC_FORMATS:
        options["icc_profile"] = icc_profile
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def write_image(path: str | Path, rgb: np.ndarray, alpha: np.ndarray | None = None,
                quality: int = 92, icc_profile: bytes | None = None) -> None:
    """Write RGB (+ alpha where the format keeps it) by extension, atomically."""
    write_files_atomic({Path(path): encode_image(path, rgb, alpha, quality, icc_profile)})


def encode_matte(path: str | Path, matte: np.ndarray) -> bytes:
    """A float 0..1 matte as an 8-bit greyscale PNG (255 = subject); ``path`` must be .png."""
    if Path(path).suffix.lower() != ".png":
        raise LivebokehError(f"--save-matte writes PNG; use a .png name, not {Path(path).name}")
    buffer = io.BytesIO()
    Image.fromarray(cv2.convertScaleAbs(matte, alpha=255.0), "L").save(buffer, format="PNG")
    return buffer.getvalue()


def write_matte(path: str | Path, matte: np.ndarray) -> None:
    """Write a float 0..1 matte as an 8-bit greyscale PNG (255 = subject), atomically."""
    write_files_atomic({Path(path): encode_matte(path, matte)})


def write_grey(path: str | Path, grey: np.ndarray) -> None:
    """Write a uint8 HxW image (a ``--mask`` refine mask) as 8-bit greyscale PNG, atomically."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise LivebokehError(f"masks are written as PNG; use a .png name, not {path.name}")
    buffer = io.BytesIO()
    Image.fromarray(grey, "L").save(buffer, format="PNG")
    write_files_atomic({path: buffer.getvalue()})


def read_photo(path: str | Path) -> tuple[np.ndarray, np.ndarray | None, bytes | None]:
    """RGB, alpha (or None) and RGB ICC profile (or None) of the input photo."""
    image = _open_checked(Path(path))
    return *_pillow_to_rgba(image), rgb_icc_profile(image)


def read_photo_data(data: bytes, name: str) -> tuple[np.ndarray, np.ndarray | None, bytes | None]:
    """``read_photo`` for a file's bytes (an upload); ``name`` is its file name."""
    if not data:
        raise LivebokehError(f"input is empty (0 bytes): {name}")
    image = _decode(io.BytesIO(data), Path(name))
    return *_pillow_to_rgba(image), rgb_icc_profile(image)


def read_depth_values(path: str | Path) -> np.ndarray:
    """The numbers of a depth map file (16-bit PNG, float TIFF or .npy) as an HxW array.

    Only reading and shape checks happen here; ``perception.depth.load_depth_map`` turns the
    values into normalised inverse depth.
    """
    path = Path(path)
    if not path.is_file():
        raise LivebokehError(f"depth map not found: {path}")
    if path.suffix.lower() == ".npy":
        try:
            values = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise LivebokehError(f"cannot read depth map {path}: {exc}") from None
    else:
        values = cv2.imread(str(path), cv2.IMREAD_UNCHANGED | cv2.IMREAD_ANYDEPTH)
        if values is None:
            raise LivebokehError(f"cannot read depth map {path} (use 16-bit PNG, TIFF or .npy)")
    values = np.squeeze(values)
    if values.ndim == 3 and values.shape[2] in (3, 4):  # grey saved as colour: take one
        values = values[..., 0]
    if values.ndim != 2 or min(values.shape) < 2 or not (
            np.issubdtype(values.dtype, np.number) or values.dtype == bool):
        raise LivebokehError(f"depth map {path} must be a single-channel HxW image of numbers, "
                             f"got {values.dtype} {'x'.join(map(str, values.shape)) or 'scalar'}")
    return values


def check_depth_name(path: str | Path) -> None:
    """``--save-depth`` writes PNG: a one-line error for any other name (checked up front)."""
    if Path(path).suffix.lower() != ".png":
        raise LivebokehError(f"--save-depth writes a 16-bit PNG; use a .png name, not "
                             f"{Path(path).name}")


def check_coc_name(path: str | Path) -> None:
    """``--save-coc`` writes .npy or .tiff: a one-line error for any other name."""
    if Path(path).suffix.lower() not in (".npy", ".tif", ".tiff"):
        raise LivebokehError(f"--save-coc writes .npy or .tiff, not '{Path(path).suffix}'")


def encode_depth_png(path: str | Path, inverse: np.ndarray) -> bytes:
    """Normalised inverse depth (0..1) as a 16-bit PNG (65535 = nearest); ``path``: .png."""
    check_depth_name(path)
    return _encoded(path, ".png", np.clip(inverse * 65535.0 + 0.5, 0, 65535).astype(np.uint16))


def write_depth_png(path, inverse: np.ndarray) -> None:
    """Write normalised inverse depth (0..1) as a 16-bit PNG (65535 = nearest), atomically."""
    write_files_atomic({Path(path): encode_depth_png(path, inverse)})


def encode_coc(path: str | Path, coc: np.ndarray) -> bytes:
    """The CoC map (float32 pixels) as .npy or 32-bit float TIFF, by ``path``'s extension."""
    check_coc_name(path)
    suffix = Path(path).suffix.lower()
    coc = coc.astype(np.float32, copy=False)
    if suffix != ".npy":
        return _encoded(path, ".tiff", coc)
    buffer = io.BytesIO()
    np.save(buffer, coc)
    return buffer.getvalue()


def write_coc(path, coc: np.ndarray) -> None:
    """Write the CoC map (float32 pixels) as .npy or 32-bit float .tif/.tiff, atomically."""
    write_files_atomic({Path(path): encode_coc(path, coc)})


def _encoded(path: str | Path, extension: str, data: np.ndarray) -> bytes:
    """Encoded by OpenCV in memory: Python then writes the file and reports every write error
    (OpenCV's own file writing ignores a failed final flush)."""
    ok, encoded = cv2.imencode(extension, data)
    if not ok:
        raise LivebokehError(f"cannot encode {path} as {extension[1:].upper()}")
    return encoded.tobytes()
