"""Quality report: livebokeh against raw MediaPipe and the naive baseline, on real test data.

    python scripts/evaluate.py [--shared ../shared] [--limit 100] [--json FILE]
        [--markdown FILE] [--pictures docs] [--bench-json FILE --chart FILE]

Sections (protocols in ``livebokeh.eval.report``; the baseline is ``livebokeh.eval.baseline``):
matte IoU / boundary F (2 px) on people-masks for raw MediaPipe (general model, one pass,
mask resized bilinearly, threshold 0.5), the baseline and livebokeh's photo matte; flicker
and lag on tennis-vest; halo ring error on real composites; lens blur PSNR against the exact
reference on synthetic RGB-D scenes; depth ordering on those scenes; contact sheets; and,
from a ``livebokeh bench --baseline --json`` file, a stage chart and the time ratios.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import cv2
import numpy as np

from livebokeh.eval import baseline, report
from livebokeh.eval import matte_quality as quality
from livebokeh.perception.segmentation import PersonSegmenter, choose_model
from livebokeh.pipeline import BokehProcessor
from livebokeh.settings import BokehSettings

REPO = Path(__file__).resolve().parents[1]
DEPTH_FILE = "models/tcmonodepth_tcsmallnet_192x320.onnx"
CONTACT_IMAGES = (1, 66, 94)
LENS_SIZE = (320, 240)  # px: the exact reference takes seconds per scene at this size
LENS_STRENGTHS = (30, 100)
SYNTHETIC_SEEDS = (0, 1, 2)


def _mean(rows: list[dict], key: str) -> float:
    return float(np.mean([row[key] for row in rows]))


class BaselinePhotos:
    """Baseline IMAGE-mode segmenters, one per selfie model, opened on first use."""

    def __init__(self):
        self.segmenters: dict[str, object] = {}

    def frame(self, rgb: np.ndarray) -> baseline.BaselineResult:
        name = choose_model(rgb.shape[1], rgb.shape[0])
        if name not in self.segmenters:
            self.segmenters[name] = baseline.open_segmenter(False, rgb.shape[1], rgb.shape[0])
        return baseline.baseline_frame(rgb, self.segmenters[name])

    def close(self) -> None:
        for segmenter in self.segmenters.values():
            segmenter.close()


def matte_quality(people: Path, indices) -> dict:
    """Per-image and mean IoU / boundary F of the three mattes against the reference masks."""
    rows = []
    photos = BaselinePhotos()
    try:
        with PersonSegmenter("general", video=False) as raw_segmenter, \
                BokehProcessor(BokehSettings(), video=False) as processor:
            for index in indices:
                rgb, alpha = report.load_person(people, index)
                truth = alpha > 0.5
                h, w = truth.shape
                raw = cv2.resize(raw_segmenter.segment(rgb), (w, h), interpolation=cv2.INTER_LINEAR)
                row = {"image": index}
                for name, matte in (("raw", raw), ("baseline", photos.frame(rgb).matte),
                                    ("livebokeh", processor.compute_matte(rgb))):
                    scores = report.matte_scores(matte, truth)
                    row[f"{name}_iou"], row[f"{name}_bf"] = scores["iou"], scores["boundary_f"]
                rows.append(row)
    finally:
        photos.close()
    keys = [k for k in rows[0] if k != "image"]
    return {"n": len(rows), "mean": {k: _mean(rows, k) for k in keys}, "images": rows}


def video_mattes(frames: list[np.ndarray], settings: BokehSettings | None) -> list[np.ndarray]:
    """Frame-size mattes of a sequence: livebokeh video mode (``settings``) or the baseline."""
    mattes = []
    if settings is None:
        with baseline.BaselineProcessor() as processor:
            for i, rgb in enumerate(frames):
                mattes.append(processor.process(rgb, i * 33).matte.copy())
        return mattes
    with BokehProcessor(settings, video=True) as processor:
        for i, rgb in enumerate(frames):
            mattes.append(processor.compute_matte(rgb, i * 33).copy())
    return mattes


def temporal(tennis: Path) -> dict:
    """Flicker of baseline and livebokeh (smoothed and not), and livebokeh's lag on motion."""
    frames = [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB)
              for p in sorted(tennis.glob("*.jpg"))]
    changes = report.luma_changes(frames)
    smoothed = video_mattes(frames, BokehSettings())
    unsmoothed = video_mattes(frames, BokehSettings(temporal=False))
    naive = video_mattes(frames, None)
    return {"frames": len(frames),
            "flicker": {"baseline": report.flicker(naive, changes),
                        "livebokeh": report.flicker(smoothed, changes),
                        "livebokeh_unsmoothed": report.flicker(unsmoothed, changes)},
            "lag": report.lag(smoothed, unsmoothed, changes)}


def halo(people: Path, pairs) -> dict:
    """Ring errors on composites of people-masks subjects over person-free backgrounds."""
    rows = []
    for subject_index, background_index in pairs:
        subject, alpha = report.load_person(people, subject_index)
        source, source_alpha = report.load_person(people, background_index)
        background = report.person_free_background(source, source_alpha, subject.shape[1],
                                                   subject.shape[0])
        errors = report.halo_errors(subject, alpha, background)
        rows.append({"subject": subject_index, "background": background_index, **errors})
    return {"pairs": rows, "mean": {k: _mean(rows, k) for k in ("livebokeh", "naive", "ratio")}}


def lens_fidelity() -> dict:
    """PSNR (dB) of the fast lens renderer and of the naive baseline vs the exact reference."""
    from livebokeh.eval.metrics import psnr
    from livebokeh.eval.reference import reference_lens_blur
    from livebokeh.eval.synthetic import SUBJECT_DEPTH, make_scene
    from livebokeh.render.coc import coc_map
    from livebokeh.render.halo_free import blur_radius
    from livebokeh.render.lens import lens_blur

    rows = []
    width, height = LENS_SIZE
    for seed in SYNTHETIC_SEEDS:
        rgb, inv_depth, matte = make_scene(width, height, seed)
        for strength in LENS_STRENGTHS:
            coc = coc_map(inv_depth, SUBJECT_DEPTH, blur_radius(strength, width, height))
            exact = reference_lens_blur(rgb, coc)
            rows.append({"seed": seed, "strength": strength,
                         "lens": psnr(lens_blur(rgb, coc, matte), exact),
                         "baseline": psnr(baseline.blur_and_blend(rgb, matte, strength), exact)})
    return {"size": f"{width}x{height}", "scenes": rows,
            "mean": {k: _mean(rows, k) for k in ("lens", "baseline")}}


def depth_ordering(model: Path) -> dict | None:
    """Pixel-pair ordering accuracy of the depth model on synthetic scenes (None: no model)."""
    from livebokeh.eval.synthetic import make_scene
    from livebokeh.perception.depth import DepthEstimator

    if not model.is_file():
        return None
    estimator = DepthEstimator(model)
    rows = []
    for seed in SYNTHETIC_SEEDS:
        rgb, inv_depth, _ = make_scene(640, 480, seed)
        rows.append({"seed": seed, "accuracy": report.depth_order_accuracy(
            estimator.estimate(rgb), inv_depth, seed=seed)})
    return {"scenes": rows, "mean": _mean(rows, "accuracy")}


def contact_tiles(rgb: np.ndarray, alpha: np.ndarray, model: Path) -> list:
    """Input, reference, mattes, depth, then the baseline and every style, for one photo."""
    with PersonSegmenter("general", video=False) as segmenter:
        raw = cv2.resize(segmenter.segment(rgb), rgb.shape[1::-1], interpolation=cv2.INTER_LINEAR)
    photos = BaselinePhotos()
    try:
        renders = [("baseline", photos.frame(rgb).image)]
    finally:
        photos.close()
    depth_model = str(model) if model.is_file() else None
    matte = depth = coc = None
    for style in ("gaussian", "lens", "motion", "radial"):
        settings = BokehSettings(style=style, strength=50, depth_model=depth_model)
        with BokehProcessor(settings, video=False) as processor:
            result = processor.process(rgb)
            renders.append((f"livebokeh {style}", result.image.copy()))
            matte = result.matte.copy() if matte is None else matte
            depth = result.depth if result.depth is not None else depth
            coc = result.coc.copy() if result.coc is not None else coc
    tiles = [("input", rgb), ("reference mask", report.matte_tile(alpha)),
             ("raw MediaPipe > 0.5", report.matte_tile(raw > 0.5)),
             ("livebokeh matte", report.matte_tile(matte))]
    if depth is not None:
        tiles.append(("depth (near = bright)", report.depth_tile(depth, *rgb.shape[1::-1])))
    if coc is not None:
        tiles.append(("|CoC| (white = max)", report.coc_tile(coc)))
    return tiles + renders


def contact_sheets(people: Path, indices, model: Path, folder: Path) -> list[str]:
    """Write docs-sized contact sheets (palette PNG) and return their paths."""
    paths = []
    for index in indices:
        rgb, alpha = report.load_person(people, index)
        path = folder / f"contact-{index}.png"
        report.save_small_png(path, report.contact_sheet(contact_tiles(rgb, alpha, model),
                                                         tile_height=150, columns=5))
        paths.append(str(path))
    return paths


def bench_summary(bench: dict) -> dict:
    """Median total ms per run and livebokeh/baseline ratios from a bench report."""
    return {"runs": [{"size": r["size"], "style": r["style"], "strength": r["strength"],
                      "total_ms": r["total"]["median_ms"],
                      "stages_ms": {k: v["median_ms"] for k, v in r["stages"].items()}}
                     for r in bench["runs"]],
            "baseline_ratios": bench.get("baseline_ratios", []),
            "frames": bench["settings"]["frames"], "cpus": bench["machine"]["cpus"]}


def speed_markdown(bench: dict) -> list[str]:
    rows = [[r["size"], r["style"], f"{r['strength']:g}",
             *(f"{r['stages_ms'][k]:.1f}" if k in r["stages_ms"] else "-"
               for k in ("segmentation", "matte", "depth", "render", "encode")),
             f"{r['total_ms']:.1f}"] for r in bench["runs"]]
    lines = ["## Speed (ms per frame, median)", "",
             f"`livebokeh bench --baseline`, {bench['frames']} frames per run, video mode, "
             f"libx264 encode included; livebokeh and the baseline take turns frame by frame in "
             f"the same run. The {bench['cpus']}-core CPU was shared with other engineers' "
             "jobs while this ran: timings are rough, ratios are more reliable.", "",
             report.markdown_table(["size", "style", "strength", "segmentation", "matte",
                                    "depth", "render", "encode", "total"], rows), ""]
    if bench["baseline_ratios"]:
        lines += ["livebokeh total time / baseline total time (same size and strength):", "",
                  report.markdown_table(["size", "style", "strength", "ratio"],
                                        [[r["size"], r["style"], f"{r['strength']:g}",
                                          r["total"]] for r in bench["baseline_ratios"]]), ""]
    return lines


def quality_markdown(result: dict) -> list[str]:
    m = result["matte"]["mean"]
    lines = ["## Matte quality (people-masks)", "",
             f"Mean over {result['matte']['n']} photos; mattes thresholded at 0.5; boundary F "
             "with 2 px tolerance.", "",
             report.markdown_table(["matte", "IoU", "boundary F"], [
                 ["raw MediaPipe (general, one pass, bilinear, 0.5)", m["raw_iou"], m["raw_bf"]],
                 ["baseline (frame-size mask, 0.5, 5 px feather)", m["baseline_iou"],
                  m["baseline_bf"]],
                 ["livebokeh photo matte", m["livebokeh_iou"], m["livebokeh_bf"]]]), ""]
    t = result["temporal"]
    lines += ["## Temporal stability (tennis-vest, video mode)", "",
              f"Flicker: mean |matte change| (0..1) between consecutive frames on pixels whose "
              f"luma changed by less than {report.STATIC_LUMA} levels ({t['frames']} frames); "
              "flips: share of those pixels whose matte crossed 0.5. "
              f"Lag: on pixels whose luma changed by at least {report.MOVING_LUMA} levels, "
              "mean |smoothed - unsmoothed| matte and IoU of the two (0.5).", "",
              report.markdown_table(["matte", "flicker (mean abs)", "flips"], [
                  [name, f"{t['flicker'][key]['mean_abs']:.4f}",
                   f"{t['flicker'][key]['flips']:.4f}"] for name, key in (
                      ("baseline", "baseline"),
                      ("livebokeh, temporal smoothing off", "livebokeh_unsmoothed"),
                      ("livebokeh (default)", "livebokeh"))]), "",
              f"Lag of livebokeh's smoothing on moving pixels: mean |difference| "
              f"{t['lag']['mean_abs']:.4f}, IoU {t['lag']['iou']:.3f} "
              "(the baseline has no smoothing, hence no lag).", ""]
    h = result["halo"]
    lo, hi = report.HALO_RING
    lines += ["## Halo (subject colour in the blurred background)", "",
              f"A people-masks subject composited with its reference alpha over a person-free "
              f"band of another photo; both renderers get that alpha as the matte (strength 30); "
              f"error: mean |difference| (0..255) {lo:g}-{hi:g} px outside the subject between "
              "the render of the composite and the render of the background alone.", "",
              report.markdown_table(["subject", "background", "livebokeh", "baseline", "ratio"],
                                    [[r["subject"], r["background"], r["livebokeh"], r["naive"],
                                      r["ratio"]] for r in h["pairs"]]
                                    + [["mean", "", h["mean"]["livebokeh"], h["mean"]["naive"],
                                        h["mean"]["ratio"]]]), ""]
    return lines


def matte_markdown(result: dict) -> list[str]:
    """The photo matte on both halves of people-masks and the video matte on real clips."""
    halves = result["photo_halves"]
    lines = ["## Photo matte (people-masks, each half)", "",
             "Raw: the general model's confidence on the whole photo (bilinear, 0.5). livebokeh: "
             "`BokehProcessor(video=False)` (whole-photo pass, a pass on the people's box, colour "
             "guided filter, the photo calibration fitted on the even half). Targets: IoU >= raw "
             "+ 0.01 and boundary F >= raw + 0.05 on each half.", "",
             report.markdown_table(["half", "photos", "raw IoU", "livebokeh IoU", "raw BF",
                                    "livebokeh BF"],
                                   [[name, h["n"], h["raw_iou"], h["iou"], h["raw_bf"], h["bf"]]
                                    for name, h in halves.items()]), ""]
    video = result["video_matte"]
    lines += ["## Video matte (DAVIS person clips and a still-camera clip)", "",
              "`scripts/measure_video_matte.py`. Raw: the landscape model on each whole frame, "
              "upsampled bilinearly. all / main: `BokehProcessor(BokehSettings(people=...), "
              "video=True)`. IoU and boundary F (2 px) at 0.5; dtSSD x100 (per frame pair the RMS "
              "of the matte's change minus the truth's, averaged); flips: share of static pixels "
              "(covered by the subject in neither frame) whose label changes. Half A: lucia, "
              "dance-jump, swing; half B: hike, rollerblade. DAVIS frames: CC BY 4.0 (Perazzi et "
              "al., CVPR 2016).", "", quality.video_table(video), "",
              "![raw vs livebokeh matte on DAVIS rollerblade](matte-video.png)", ""]
    held = result.get("held")
    if held:
        lines += ["## Hands and held objects", "",
                  "`scripts/measure_held_objects.py`: share of the truth's person pixels in a box "
                  "around a hand or a held object that stay sharp: by the photo matte, by the "
                  "video matte (gaussian, motion, radial), by depth alone (lens, |CoC| <= 1 px at "
                  "strength 30) and in the lens style (matte or depth).", "",
                  report.markdown_table(["frame", "held", "photo matte", "video matte",
                                         "depth alone", "lens"],
                                        [[r["image"], r["held"], r["matte"], r["video"],
                                          r["depth"], r["lens"]] for r in held]), "",
                  "![held objects](held-objects.png)", ""]
    return lines


def lens_depth_markdown(result: dict) -> list[str]:
    lens = result["lens"]
    lines = ["## Lens blur fidelity (synthetic RGB-D scenes)", "",
             f"PSNR (dB) against the exact layered scatter (`livebokeh.eval.reference`) at "
             f"{lens['size']}, same CoC map; the baseline blurs the whole frame.", "",
             report.markdown_table(["seed", "strength", "livebokeh lens", "baseline"],
                                   [[r["seed"], r["strength"], r["lens"], r["baseline"]]
                                    for r in lens["scenes"]]), ""]
    depth = result["depth"]
    if depth is None:
        return lines + ["## Depth ordering", "", "Not measured: no depth model found.", ""]
    rows = [[r["seed"], r["accuracy"]] for r in depth["scenes"]]
    return lines + ["## Depth ordering (synthetic RGB-D scenes)", "",
                    f"Share of random pixel pairs (true inverse depths at least "
                    f"{report.DEPTH_GAP} apart) that TCMonoDepth orders correctly. The scenes "
                    "are synthetic (flat painted shapes), so this is a sanity check of the depth "
                    "path, not a measure of the model on real photos.", "",
                    report.markdown_table(["seed", "accuracy"], rows), ""]


def markdown(result: dict, folder: Path) -> str:
    lines = ["# livebokeh quality and speed report", "",
             "Generated by `scripts/evaluate.py`; the naive baseline is `livebokeh.eval.baseline` "
             "(MediaPipe mask at frame size, threshold 0.5, 5 px feather, GaussianBlur of the "
             "whole frame with the kernel matching livebokeh's sigma, blendLinear).", ""]
    if "bench" in result:
        lines += speed_markdown(result["bench"])
        if "chart" in result:
            lines += [f"![ms per stage]({os.path.relpath(result['chart'], folder)})", ""]
    lines += quality_markdown(result)
    if "video_matte" in result:
        lines += matte_markdown(result)
    lines += lens_depth_markdown(result)
    if result.get("contact_sheets"):
        lines += ["## Contact sheets", "",
                  "input, reference mask, raw MediaPipe, livebokeh matte, depth; baseline and "
                  "livebokeh styles at strength 50.", ""]
        lines += [f"![{Path(p).stem}]({os.path.relpath(p, folder)})" for p in
                  result["contact_sheets"]]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--limit", type=int, default=100, help="people-masks photos scored")
    parser.add_argument("--halo-pairs", type=int, default=len(report.HALO_PAIRS))
    parser.add_argument("--json", type=Path, help="write the full results as JSON")
    parser.add_argument("--markdown", type=Path, help="write the Markdown report")
    parser.add_argument("--pictures", type=Path, help="folder for contact sheets (e.g. docs)")
    parser.add_argument("--bench-json", type=Path, help="output of livebokeh bench --json")
    parser.add_argument("--chart", type=Path, help="bar chart PNG of --bench-json stages")
    parser.add_argument("--held-json", type=Path,
                        help="rows printed by scripts/measure_held_objects.py --json")
    args = parser.parse_args()
    people = args.shared / "testdata" / "people-masks"
    model = args.shared / DEPTH_FILE
    result = {"matte": matte_quality(people, range(1, args.limit + 1)),
              "temporal": temporal(args.shared / "testdata" / "tennis-vest"),
              "halo": halo(people, report.HALO_PAIRS[:args.halo_pairs]),
              "lens": lens_fidelity(), "depth": depth_ordering(model)}
    clips = quality.load_davis(args.shared / "testdata" / "davis-people")
    clips.append(quality.still_camera_clip(people))
    result["video_matte"] = quality.measure_video(clips)
    result["photo_halves"] = {half: quality.photo_scores(people, range(start, 101, 2))
                              for half, start in (("even", 2), ("odd", 1))}
    if args.held_json:
        result["held"] = json.loads(args.held_json.read_text())
    if args.pictures:
        result["contact_sheets"] = contact_sheets(people, CONTACT_IMAGES, model, args.pictures)
    if args.bench_json:
        bench = json.loads(args.bench_json.read_text())
        result["bench"] = bench_summary(bench)
        if args.chart:
            report.stage_chart(bench, args.chart)
            result["chart"] = str(args.chart)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    if args.markdown:
        args.markdown.write_text(markdown(result, args.markdown.parent))
    print(json.dumps({k: v.get("mean", v) if isinstance(v, dict) else v
                      for k, v in result.items()}, indent=2))


if __name__ == "__main__":
    main()
