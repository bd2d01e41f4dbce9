"""The ``livebokeh`` command line (click). Parsing only: the work lives in the job modules.

Expected faults raise ``LivebokehError`` and end as one line on stderr with a non-zero exit;
Ctrl-C ends with exit 130 and no partial output.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import logging
import os
import signal
import sys
from pathlib import Path

import click

from livebokeh.errors import LivebokehError, write_error
from livebokeh.settings import SEGMENTER_MODELS, STYLES, BokehSettings


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP (a closed terminal) raised like Ctrl-C, so outputs are cleaned up."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


@contextlib.contextmanager
def _terminate_as_interrupt():
    """While a command runs, SIGTERM and SIGHUP unwind like Ctrl-C instead of killing the
    process on the spot (which would leave temp files behind). Main thread only."""

    def raise_terminated(signum, frame):
        raise Terminated(signum)

    names = [name for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)]
    try:
        previous = {name: signal.signal(getattr(signal, name), raise_terminated)
                    for name in names}
    except ValueError:  # not the main thread: leave signals alone
        previous = {}
    try:
        yield
    finally:
        for name, handler in previous.items():
            signal.signal(getattr(signal, name), handler)


def _friendly(command):
    """Turn expected faults into ``livebokeh: error: ...`` and a non-zero exit code;
    Ctrl-C, SIGTERM and SIGHUP end with 128 + the signal's number and no partial output."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            with _terminate_as_interrupt():
                return command(*args, **kwargs)
        except LivebokehError as exc:
            click.echo(f"livebokeh: error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt as exc:
            signum = getattr(exc, "signum", signal.SIGINT)
            how = ("interrupted" if signum == signal.SIGINT
                   else f"stopped by {signal.Signals(signum).name}")
            click.echo(f"livebokeh: {how}; no output written", err=True)
            sys.exit(128 + signum)

    return wrapper


existing_file = click.Path(exists=True, dir_okay=False, path_type=Path)
output_file = click.Path(dir_okay=False, path_type=Path)
threads_option = click.option(
    "--threads", type=click.IntRange(1), default=None,
    help="CPU cores to keep busy [default: all]. From 2 up, consecutive frames' stages "
         "overlap on threads; with N jobs in parallel give each cores/N (1: no overlap).")


def blur_options(command):
    """Options shared by every command that blurs (photo, video; later cam)."""
    options = [
        click.option("--style", type=click.Choice(STYLES), default="gaussian", show_default=True,
                     help="Blur style."),
        click.option("--strength", type=click.FloatRange(0, 100), default=30, show_default=True,
                     help="0..100: blur radius as a share of 4% of the image diagonal."),
        click.option("--segmenter", "segmenter_model", type=click.Choice(SEGMENTER_MODELS),
                     default="auto", show_default=True,
                     help="Selfie model: auto (general 256x256 on the person, landscape "
                          "144x256 for wide groups), general, or landscape (faster, coarser)."),
        click.option("--people", type=click.Choice(["all", "main"]), default="all",
                     show_default=True,
                     help="Keep everyone sharp, or one person (largest and most central, "
                          "then tracked) and blur bystanders."),
        click.option("--subject", callback=_parse_optional_point, default=None, metavar="X,Y",
                     help="--people main: the person at this point (fractions of width and "
                          "height) [default: the largest and most central]."),
        click.option("--mask", "mask_path", type=existing_file,
                     help="Refine mask image: white keeps sharp, black blurs, grey automatic."),
        click.option("--matte", "matte_path", type=existing_file,
                     help="Use this matte (greyscale, 255 = subject) instead of the model."),
        click.option("--grain", default="auto", show_default=True,
                     help="Grain in blurred areas: auto (match the subject), off, or 0..100."),
        click.option("--angle", type=float, default=0.0, show_default=True,
                     help="motion: streak direction in degrees (0 = horizontal, CCW)."),
        click.option("--length", type=click.FloatRange(0, 10000), default=None,
                     help="motion: streak length in pixels [default: from --strength]."),
        click.option("--center", callback=_parse_point, default="0.5,0.5", show_default=True,
                     metavar="X,Y", help="radial: zoom centre, fractions of width and height."),
        click.option("--amount", type=click.FloatRange(0, 100), default=None,
                     help="radial: zoom streak 0..100 [default: --strength]."),
        click.option("--blades", type=int, default=0, show_default=True,
                     help="lens: aperture blades, 0 (round) or 5..9."),
        click.option("--blade-rotation", type=float, default=0.0, show_default=True,
                     help="lens: aperture polygon rotation in degrees."),
        click.option("--focus", default="auto", show_default=True,
                     help="lens: focal plane: auto (subject), face, X,Y (0..1), or depth:D."),
        click.option("--near-blur/--no-near-blur", default=True, show_default=True,
                     help="lens: blur what is in front of the focal plane too."),
        click.option("--depth-model", type=existing_file,
                     help="lens: ONNX depth model [default: TCMonoDepth from the model cache]."),
        click.option("--depth-every", type=click.IntRange(1, 100), default=3, show_default=True,
                     help="lens, video: run the depth model every N frames."),
        click.option("--depth-map", "depth_map_path", type=existing_file,
                     help="lens: use this depth map (16-bit PNG, float TIFF or .npy)."),
        click.option("--depth-kind", type=click.Choice(["inverse", "depth"]), default="inverse",
                     show_default=True,
                     help="What --depth-map holds: inverse depth (disparity) or distance."),
        click.option("--backend", type=click.Choice(["auto", "cpu", "cuda"]), default="auto",
                     show_default=True,
                     help="Render on the GPU (CuPy, pip install 'livebokeh[gpu]') or the CPU."),
        click.option("--background", default="blur", show_default=True,
                     metavar="blur|transparent|IMAGE|#RRGGBB",
                     help="blur the real background; transparent: subject with alpha (photo: "
                          ".png/.webp/.tiff, video: .webm/.mov); or replace it with an image "
                          "(blurred by --style/--strength) or a colour."),
    ]
    for option in reversed(options):
        command = option(command)
    from livebokeh.app.config import config_option

    return config_option(command)  # --config FILE: these and the command's options from TOML


def _parse_optional_point(ctx, param, value):
    return None if value is None else _parse_point(ctx, param, value)


def _parse_point(ctx, param, value):
    try:
        x, y = (float(v) for v in str(value).split(","))
    except ValueError:
        raise click.BadParameter(f"'{value}' is not X,Y (e.g. 0.5,0.4)") from None
    if not (0 <= x <= 1 and 0 <= y <= 1):
        raise click.BadParameter(f"'{value}': X and Y must be in 0..1")
    return x, y


SETTINGS_KEYS = ("style", "strength", "segmenter_model", "people", "subject", "grain", "angle",
                 "length", "center", "amount", "blades", "blade_rotation", "focus", "near_blur",
                 "depth_model", "depth_every", "background", "backend")


def settings_from(**options) -> BokehSettings:
    """BokehSettings from the parsed blur options (other keyword arguments are ignored)."""
    picked = {key: options[key] for key in SETTINGS_KEYS if key in options}
    if picked.get("depth_model") is not None:
        picked["depth_model"] = str(picked["depth_model"])
    return BokehSettings(**picked)


# Errors a write to a full or failing disk gives; the file writers turn their own into
# "cannot write FILE" lines, so one of these reaching the top with no file named is stdout's.
STDOUT_FAULTS = {errno.ENOSPC, errno.EFBIG, errno.EIO, errno.EDQUOT}


class _Commands(click.Group):
    """The ``livebokeh`` group: a standard output that cannot be written (a full disk behind
    ``> file``, a failing pipe) ends in one line on stderr instead of a traceback."""

    def main(self, *args, **kwargs):
        try:
            return super().main(*args, **kwargs)
        except OSError as exc:
            if exc.errno not in STDOUT_FAULTS or exc.filename is not None:
                raise  # files report their own faults: this is a bug, keep the traceback
            devnull = os.open(os.devnull, os.O_WRONLY)  # so the exit flush cannot fail again
            os.dup2(devnull, sys.stdout.fileno())
            click.echo(f"livebokeh: error: {write_error('the standard output', exc)}",
                       err=True)
            sys.exit(1)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="livebokeh")
def main() -> None:
    """Portrait-lens background blur for photos, videos and webcams."""
    log = logging.getLogger("livebokeh")
    if not log.handlers:  # notices such as "no depth model" as one plain line on stderr
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("livebokeh: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False


@main.command()
@click.argument("input_path", metavar="IN", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=output_file, required=True, help="Output image file.")
@blur_options
@click.option("--save-matte", type=output_file,
              help="Also write the final matte (PNG, 255 = subject).")
@click.option("--quality", type=click.IntRange(1, 100), default=92, show_default=True,
              help="JPEG/WebP quality.")
@click.option("--save-coc", type=output_file,
              help="lens: write the CoC radius in pixels (float32 .npy or .tiff).")
@click.option("--save-depth", type=output_file,
              help="lens: write the depth used (16-bit PNG, 65535 = nearest).")
@threads_option
@_friendly
def photo(input_path, output, mask_path, matte_path, save_matte, quality, save_coc, save_depth,
          depth_map_path, depth_kind, threads, **blur):
    """Blur the background of a photo (JPEG, PNG, WebP, BMP, TIFF)."""
    from livebokeh.app.photo import process_photo

    process_photo(input_path, output, settings_from(**blur), mask_path=mask_path,
                  matte_path=matte_path, save_matte=save_matte, quality=quality,
                  depth_map_path=depth_map_path, depth_kind=depth_kind, save_coc=save_coc,
                  save_depth=save_depth, threads=threads)


@main.command()
@click.argument("input_path", metavar="IN", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=output_file, required=True,
              help="Output video (.mp4, .mkv, .mov; .webm or .mov for --background transparent).")
@blur_options
@click.option("--save-matte", type=output_file,
              help="Also write the final matte as a video (grey, 255 = subject).")
@click.option("--crf", type=click.IntRange(0, 51), default=18, show_default=True,
              help="H.264 quality (lower is better).")
@click.option("--no-temporal", is_flag=True, help="Do not smooth the matte over time.")
@threads_option
@_friendly
def video(input_path, output, mask_path, matte_path, save_matte, crf, no_temporal,
          depth_map_path, depth_kind, threads, **blur):
    """Blur the background of a video; audio and timestamps are kept."""
    from livebokeh.app.video import process_video

    settings = settings_from(**blur)
    settings.temporal = not no_temporal
    process_video(input_path, output, settings, mask_path=mask_path, matte_path=matte_path,
                  save_matte=save_matte, crf=crf, depth_map_path=depth_map_path,
                  depth_kind=depth_kind, threads=threads)


def _ray_address(ctx, param, value):
    if value is None or value in ("local", "auto") or ":" in value:
        return value
    raise click.BadParameter(f"'{value}' is not a Ray address (auto, local, HOST:PORT or "
                             "ray://HOST:PORT); write --ray=ADDRESS or put --ray last")


@main.command()
@click.argument("inputs", nargs=-1, metavar="INPUT...", type=click.Path(path_type=Path))
@click.option("-o", "--output-dir", "out_dir", required=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the outputs (OUTDIR/<input name>) and livebokeh-batch.jsonl.")
@click.option("--from-list", type=existing_file, help="Also the inputs in FILE, one a line.")
@blur_options
@click.option("--quality", type=click.IntRange(1, 100), default=92, show_default=True,
              help="Photos: JPEG/WebP quality.")
@click.option("--crf", type=click.IntRange(0, 51), default=18, show_default=True,
              help="Videos: H.264 quality (lower is better).")
@click.option("--no-temporal", is_flag=True, help="Videos: do not smooth the matte over time.")
@click.option("--overwrite", is_flag=True,
              help="Redo inputs whose output exists (default: skip them, so a re-run resumes).")
@click.option("--workers", type=click.IntRange(1),
              help="Worker processes, or Ray actors [default: the CPU count].")
@click.option("--threads", type=click.IntRange(1),
              help="Cores per worker [default: cores / workers, at least 1; on Ray 1].")
@click.option("--segment-seconds", type=click.FloatRange(0),
              help="Split videos longer than 1.5 x S into segments of about S seconds; 0: "
                   "never [default: split long videos when workers would idle].")
@click.option("--ray", "ray_address", is_flag=False, flag_value="local", default=None,
              metavar="[ADDRESS]", callback=_ray_address,
              help="Run on Ray (pip install 'livebokeh[ray]'): a local one, or 'auto' / "
                   "HOST:PORT for a cluster whose nodes all see the files at the same paths.")
@click.pass_context
@_friendly
def batch(ctx, inputs, out_dir, from_list, overwrite, workers, threads,
          segment_seconds, ray_address, **options):
    """Blur many photos and videos (files, folders, globs) into OUTDIR, resumably.

    A NAME.livebokeh.json sidecar beside an input (the editor saves one) sets that input's
    options. Exit 0 when every input is ok or skipped, 1 when any failed.
    """
    from livebokeh.app.batch import MANIFEST_NAME, collect_inputs, run_batch

    sources = collect_inputs(inputs, from_list)
    if not sources:
        raise LivebokehError("no inputs: name files, folders, globs or --from-list FILE")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LivebokehError(f"cannot make the output folder {out_dir}: {exc.strerror}") from None
    jobs = [_batch_job(ctx, source, out_dir, options) for source in sources]
    try:
        rows = run_batch(jobs, out_dir / MANIFEST_NAME, workers=workers, threads=threads,
                         overwrite=overwrite, segment_seconds=segment_seconds,
                         ray=ray_address, on_row=_report_failure)
    except KeyboardInterrupt:
        click.echo("livebokeh: interrupted; finished outputs are kept, no partial one is left",
                   err=True)
        sys.exit(130)
    counts = {status: sum(row["status"] == status for row in rows)
              for status in ("ok", "skipped", "failed")}
    click.echo(f"livebokeh: batch: {counts['ok']} ok, {counts['skipped']} skipped, "
               f"{counts['failed']} failed, {sum(row['frames'] for row in rows)} frames; "
               f"manifest {out_dir / MANIFEST_NAME}", err=True)
    sys.exit(1 if counts["failed"] else 0)


def _batch_job(ctx, source: Path, out_dir: Path, options: dict):
    """The BatchJob of one input: the command's options, then its sidecar, if any."""
    from livebokeh.app.batch import BatchJob, output_for
    from livebokeh.app.batch.sidecar import input_options

    output = output_for(source, out_dir)
    try:
        merged = input_options(ctx, source, options)
        settings = settings_from(**merged)
    except click.BadParameter as exc:
        return BatchJob(source, output, error=exc.format_message())
    except LivebokehError as exc:
        return BatchJob(source, output, error=str(exc))
    settings.temporal = not merged["no_temporal"]
    return BatchJob(source, output, settings, mask=merged["mask_path"],
                    matte=merged["matte_path"], depth_map=merged["depth_map_path"],
                    depth_kind=merged["depth_kind"], crf=merged["crf"],
                    quality=merged["quality"])


def _report_failure(row) -> None:
    if row.status == "failed":
        from tqdm import tqdm

        named = row.error if str(row.input) in row.error else f"{row.input}: {row.error}"
        tqdm.write(f"livebokeh: error: {named}", file=sys.stderr)


@main.group(invoke_without_command=True)
@click.pass_context
def models(ctx) -> None:
    """List the models livebokeh uses and where each was found."""
    if ctx.invoked_subcommand is None:
        from livebokeh.models import describe_models

        for line in describe_models():
            click.echo(line)


@models.command("fetch")
@click.option("--url", envvar="LIVEBOKEH_DEPTH_URL",
              help="Download from this mirror instead (or set LIVEBOKEH_DEPTH_URL).")
@click.option("--force", is_flag=True, help="Download again even if a verified copy exists.")
@_friendly
def models_fetch(url, force) -> None:
    """Download the depth model (TCMonoDepth small) into the user cache, sha256-checked."""
    from livebokeh.models import REGISTRY, fetch_model, verified_cache_copy

    existing = verified_cache_copy("depth")
    if existing is not None and not force:
        click.echo(f"depth model already in the cache (sha256 ok): {existing}")
        return
    click.echo(f"fetching depth model from {url or REGISTRY['depth'].url}", err=True)
    path = fetch_model("depth", url=url, progress=sys.stderr.isatty(), force=force)
    click.echo(f"depth model ready (sha256 ok): {path}")


def _parse_size(ctx, param, values):
    sizes = []
    for value in values:
        try:
            width, height = (int(v) for v in value.lower().split("x"))
        except ValueError:
            raise click.BadParameter(f"'{value}' is not WIDTHxHEIGHT (e.g. 1280x720)") from None
        if not (16 <= width <= 8192 and 16 <= height <= 8192):
            raise click.BadParameter(f"'{value}' is outside 16..8192 pixels per side")
        sizes.append((width, height))
    return sizes


def _parse_lfbw(ctx, param, values):
    blurs = []
    for value in values:
        if str(value).strip().lower() == "default":
            blurs.append(None)
            continue
        try:
            blur = int(value)
        except ValueError:
            blur = 0
        if not 1 <= blur <= 100:
            raise click.BadParameter(f"'{value}' is not 'default' or a blur value 1..100")
        blurs.append(blur)
    return tuple(blurs)


@main.command()
@click.option("--size", "sizes", multiple=True, callback=_parse_size, metavar="WxH",
              help="Frame size; repeat for several (default 640x360, 1280x720, 1920x1080, "
                   "3840x2160).")
@click.option("--frames", type=click.IntRange(1), default=40, show_default=True,
              help="Frames timed per run (after warm-up).")
@click.option("--warmup", type=click.IntRange(0), default=5, show_default=True)
@click.option("--strength", "strengths", type=click.FloatRange(0, 100), multiple=True,
              help="Strength; repeat for several (default 5, 15, 30, 60 and 100).")
@click.option("--style", "styles", type=click.Choice(STYLES), multiple=True,
              help="Blur style; repeat for several (default: every style).")
@click.option("--input", "input_path", type=existing_file,
              help="Image or video to time on (default: the bundled portrait photo, "
                   "else a generated scene with a figure).")
@click.option("--baseline", "baseline_all", is_flag=True,
              help="Time the naive blur-whole-frame pipeline (livebokeh.eval.baseline) at "
                   "every strength [default: at strength 30 only].")
@click.option("--no-baseline", is_flag=True, help="Do not time the naive pipeline.")
@click.option("--lfbw", "lfbw_blurs", multiple=True, callback=_parse_lfbw,
              metavar="default|N",
              help="Also time Linux-Fake-Background-Webcam's per-frame work with "
                   "--background no (default) or --background no,blur=N, and livebokeh at "
                   "its sigma [default: default, 21 and 61].")
@click.option("--no-lfbw", is_flag=True, help="Do not time the LFBW comparison.")
@click.option("--whole-video", type=existing_file, metavar="CLIP",
              help="Also time 'livebokeh video' against LFBW's loop on this clip (even-sized).")
@click.option("--repeat", type=click.IntRange(1), default=3, show_default=True,
              help="--whole-video: runs of each, alternating.")
@click.option("--backend", type=click.Choice(["auto", "cpu", "cuda"]), default="auto",
              show_default=True, help="Render on the GPU (CuPy) or the CPU.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@_friendly
def bench(sizes, frames, warmup, strengths, styles, input_path, baseline_all, no_baseline,
          lfbw_blurs, no_lfbw, whole_video, repeat, backend, as_json) -> None:
    """Time each stage (decode, segmentation, matte, depth, render, encode): median and p95 ms.

    Also: the naive pipeline and Linux-Fake-Background-Webcam at the same sigma, and the
    flatness of the cost across strengths, all from the same alternating runs.
    """
    from livebokeh.app.bench import DEFAULT_LFBW_BLURS, DEFAULT_STRENGTHS, format_table, run_bench
    from livebokeh.app.bench import whole_video as time_whole_video

    blurs = () if no_lfbw else (lfbw_blurs or DEFAULT_LFBW_BLURS)
    report = run_bench(sizes or [(640, 360), (1280, 720), (1920, 1080), (3840, 2160)],
                       strengths or DEFAULT_STRENGTHS,
                       frames=frames, warmup=warmup, input_path=input_path,
                       styles=styles or STYLES,
                       baseline=False if no_baseline else (True if baseline_all else "reference"),
                       lfbw_blurs=blurs, backend=backend)
    if whole_video is not None:
        report["whole_video"] = time_whole_video(whole_video, blurs or DEFAULT_LFBW_BLURS,
                                                 repeat)
    if as_json:
        import json

        click.echo(json.dumps(report, indent=2))
    else:
        click.echo(format_table(report))


def _camera_size(ctx, param, value):
    if value is None:
        return None
    from livebokeh.io.sources import parse_size

    try:
        return parse_size(str(value))
    except LivebokehError as exc:
        raise click.BadParameter(str(exc)) from None


@main.command()
@click.option("--camera", default="0", show_default=True, metavar="INDEX|PATH",
              help="Camera index, device (/dev/video2), or a video file / URL played as a camera.")
@click.option("--loop", is_flag=True, help="Video file as camera: start again at the end.")
@click.option("--size", callback=_camera_size, metavar="WxH",
              help="Camera frame size to ask for (a video file is resized to it).")
@click.option("--fps", type=click.FloatRange(1, 240), help="Camera frame rate to ask for.")
@click.option("--vcam", "vcam_device", metavar="DEVICE",
              help="Virtual camera device (/dev/video10, 'OBS Virtual Camera') [default: first].")
@click.option("--vcam-backend", metavar="NAME",
              help="pyvirtualcam backend (v4l2loopback, obs, unitycapture) [default: any].")
@click.option("--no-vcam", is_flag=True, help="No virtual camera (preview or benchmark only).")
@click.option("--preview", is_flag=True,
              help="Show a window; keys: s style, +/- strength, f focus, b blur, q quit.")
@click.option("--stats", is_flag=True, help="Print fps, latency and stage times every 2 s.")
@click.option("--frames", "max_frames", type=click.IntRange(1),
              help="Stop after this many output frames.")
@click.option("--duration", "max_seconds", type=click.FloatRange(0, min_open=True),
              help="Stop after this many seconds.")
@click.option("--json-summary", type=output_file, help="Write the end-of-run summary as JSON.")
@click.option("--serve", metavar="HOST:PORT",
              help="Serve a control page, an MJPEG stream and a transparent OBS overlay "
                   "(e.g. 127.0.0.1:8787). Non-loopback addresses need --token.")
@click.option("--token", envvar="LIVEBOKEH_TOKEN",
              help="--serve: every request must carry it (?token=, Bearer header).")
@threads_option
@blur_options
@_friendly
def cam(camera, loop, size, fps, vcam_device, vcam_backend, no_vcam, preview, stats, max_frames,
        max_seconds, json_summary, serve, token, mask_path, matte_path, depth_map_path,
        depth_kind, threads, **blur):
    """Blur a webcam live into a virtual camera (for Zoom, Meet, OBS...). Ctrl-C stops."""
    from livebokeh.app.live import run_cam

    run_cam(settings_from(**blur), camera=camera, loop=loop, size=size, fps=fps,
            vcam_device=vcam_device, vcam_backend=vcam_backend, preview=preview,
            vcam=not no_vcam, stats=stats, max_frames=max_frames, max_seconds=max_seconds,
            json_summary=json_summary, mask_path=mask_path, matte_path=matte_path,
            depth_map_path=depth_map_path, depth_kind=depth_kind, serve=serve, token=token,
            threads=threads)


@main.command()
@click.argument("photos", metavar="[PHOTO]...", nargs=-1, type=click.Path(path_type=Path))
@click.option("--serve", default="127.0.0.1:0", show_default=True, metavar="HOST:PORT",
              help="Where to serve the editor (port 0: a free one). Non-loopback needs --token.")
@click.option("--token", envvar="LIVEBOKEH_TOKEN",
              help="Every request must carry it (?token=, Bearer header).")
@click.option("--out", "out_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=".", show_default=True,
              help="Folder exports go to (with their refine mask and settings sidecar).")
@click.option("--no-browser", is_flag=True, help="Do not open the page in a browser.")
@click.option("--depth-model", type=existing_file,
              help="lens: ONNX depth model [default: TCMonoDepth from the model cache].")
@click.option("--backend", type=click.Choice(["auto", "cpu", "cuda"]), default="auto",
              show_default=True, help="Render on the GPU (CuPy) or the CPU.")
@_friendly
def edit(photos, serve, token, out_dir, no_browser, depth_model, backend) -> None:
    """Edit photos in the browser: style, strength, brushes, focus, export. Ctrl-C stops."""
    from livebokeh.app.editor import run_editor

    run_editor(photos, serve=serve, token=token, out_dir=out_dir, browser=not no_browser,
               backend=backend, depth_model=str(depth_model) if depth_model else None,
               log=lambda line: click.echo(line, err=True))


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def doctor(as_json) -> None:
    """Check cameras, virtual camera, GPU and models, and say how to fix what is missing."""
    from livebokeh.app.doctor import format_report, run_checks

    report = run_checks()
    if as_json:
        import json

        click.echo(json.dumps(report, indent=2))
    else:
        click.echo(format_report(report))


if __name__ == "__main__":
    main()
