"""The ``livebokeh photo`` job: read, validate, blur and write every output atomically."""

from __future__ import annotations

from pathlib import Path

import cv2

from livebokeh.app.inputs import load_still_inputs
from livebokeh.errors import LivebokehError
from livebokeh.io.atomic import check_outputs, write_files_atomic
from livebokeh.io.images import (
    ALPHA_FORMATS,
    check_coc_name,
    check_depth_name,
    encode_coc,
    encode_depth_png,
    encode_image,
    encode_matte,
    output_format,
    read_photo,
)
from livebokeh.pipeline import BokehProcessor
from livebokeh.settings import BokehSettings, background_path
from livebokeh.threads import limit_threads


def process_photo(input_path, output, settings: BokehSettings, mask_path=None,
                  matte_path=None, save_matte=None, quality: int = 92, depth_map_path=None,
                  depth_kind: str = "inverse", save_coc=None, save_depth=None,
                  threads: int | None = None) -> None:
    """The ``livebokeh photo`` job: validate everything, blur, write outputs atomically.

    The outputs (image, matte, CoC, depth) appear together once all are written; a failed
    write (full disk, read-only folder...) is one line and leaves every old file as it was.
    ``threads``: CPU cores OpenCV may use for this photo (``livebokeh.threads``; default
    all); N photos in parallel on N cores: ``threads=1`` each.

    ``depth_map_path``/``depth_kind``: bring-your-own depth (``perception.depth.load_depth_map``).
    ``save_coc`` (.npy/.tiff, float32 pixels) and ``save_depth`` (16-bit PNG) need the lens
    style.
    """
    input_path, output = Path(input_path), Path(output)
    if output_format(output) not in ALPHA_FORMATS and settings.background == "transparent":
        raise LivebokehError("--background transparent needs a .png, .webp or .tiff output")
    if save_matte is not None and Path(save_matte).suffix.lower() != ".png":
        raise LivebokehError(f"--save-matte writes PNG; use a .png name, not {save_matte}")
    if (save_coc is not None or save_depth is not None) and settings.style != "lens":
        raise LivebokehError("--save-coc and --save-depth need --style lens")
    if save_coc is not None:
        check_coc_name(save_coc)
    if save_depth is not None:
        check_depth_name(save_depth)
    check_outputs([output, save_matte, save_coc, save_depth],
                   [input_path, mask_path, matte_path, depth_map_path,
                    background_path(settings.background)])
    limit_threads(threads, overlapped=False)
    rgb, alpha, icc_profile = read_photo(input_path)
    load_still_inputs(settings, (rgb.shape[1], rgb.shape[0]), mask_path, matte_path,
                      depth_map_path, depth_kind)
    with BokehProcessor(settings, video=False) as processor:
        result = processor.process(rgb)
    if save_depth is not None and result.depth is None:  # before any file is written
        raise LivebokehError("--save-depth: no depth was used (no depth model or map)")
    contents = {output: encode_image(output, result.image,
                                     alpha if result.alpha is None else result.alpha,
                                     quality, icc_profile)}
    if save_matte is not None:
        contents[Path(save_matte)] = encode_matte(save_matte, result.matte)
    if save_coc is not None:
        contents[Path(save_coc)] = encode_coc(save_coc, result.coc)
    if save_depth is not None:
        depth = cv2.resize(result.depth, (rgb.shape[1], rgb.shape[0]))
        contents[Path(save_depth)] = encode_depth_png(save_depth, depth)
    write_files_atomic(contents)  # all outputs appear together, or none and old ones stay
