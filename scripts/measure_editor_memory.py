"""Memory per pixel of the photo editor: peak RSS growth to open, preview and export a photo.

Backs ``livebokeh.app.editing.BYTES_PER_PIXEL`` (the limit that refuses photos too large for
memory). Each style runs in a fresh process so the peaks do not hide each other:
    python scripts/measure_editor_memory.py [--shared ../shared] [--megapixels 12]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2

CHILD = """
import json, resource, sys
from pathlib import Path
from livebokeh.app.editing import Editor
from livebokeh.matte.brush import Stroke
photo, out, style, model = sys.argv[1:5]
with Editor(Path(out), depth_model=model or None) as editor:
    editor.preview  # modules loaded; models load on first use, counted in the baseline below
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    edit = editor.open_path(photo)
    edit.update({"style": style})
    edit.add_stroke(Stroke("erase", ((0.2, 0.2), (0.4, 0.3)), 0.05, 0.5))
    editor.preview(edit.id, 1280)
    editor.export(edit.id, style + ".png")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"style": style, "grown_bytes": (peak - before) * 1024}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path("../shared"))
    parser.add_argument("--megapixels", type=float, default=12.0)
    args = parser.parse_args()
    source = cv2.imread(str(args.shared / "testdata/people-masks/images/1.jpg"))
    width = round((args.megapixels * 1e6 * 4 / 3) ** 0.5)
    height = round(width * 3 / 4)
    model = args.shared / "models/tcmonodepth_tcsmallnet_192x320.onnx"
    with tempfile.TemporaryDirectory() as folder:
        photo = Path(folder) / "photo.jpg"
        cv2.imwrite(str(photo), cv2.resize(source, (width, height),
                                           interpolation=cv2.INTER_CUBIC))
        rows = []
        for style in ("gaussian", "lens", "motion", "radial"):
            run = subprocess.run([sys.executable, "-c", CHILD, str(photo), folder, style,
                                  str(model) if model.exists() else ""],
                                 capture_output=True, text=True, check=True)
            row = json.loads(run.stdout.strip().splitlines()[-1])
            row["bytes_per_pixel"] = round(row["grown_bytes"] / (width * height), 1)
            rows.append(row)
            print(json.dumps(row))
    print(f"peak: {max(r['bytes_per_pixel'] for r in rows)} bytes per pixel "
          f"({width}x{height}); this process: "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MiB")


if __name__ == "__main__":
    main()
