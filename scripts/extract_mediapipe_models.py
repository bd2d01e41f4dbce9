"""Extract the MediaPipe models that livebokeh ships from the PyPI wheel ``mediapipe==0.10.21``.

The selfie segmentation and face detection models are Apache-2.0 and come from Google's own
wheel, so the package carries them and ``pip install`` alone gives a working default. This
script is how ``livebokeh/data/*.tflite`` were made; run it to reproduce or verify them:

    python scripts/extract_mediapipe_models.py [--wheel PATH]

Without ``--wheel`` it asks pip to download the wheel (no dependencies) into a temp folder.
Every file is checked against the sha256 pinned in ``livebokeh.models``.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from livebokeh.models import PACKAGED_DIR, REGISTRY  # noqa: E402

WHEEL_SPEC = "mediapipe==0.10.21"
MEMBERS = {
    "selfie_segmentation.tflite": (
        "mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite"
    ),
    "selfie_segmentation_landscape.tflite": (
        "mediapipe/modules/selfie_segmentation/selfie_segmentation_landscape.tflite"
    ),
    "face_detection_short_range.tflite": (
        "mediapipe/modules/face_detection/face_detection_short_range.tflite"
    ),
}


def download_wheel(folder: Path) -> Path:
    """Download one manylinux wheel of the pinned release; the models are the same in all."""
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
         "--python-version", "3.11", "--implementation", "cp",
         "--platform", "manylinux_2_28_x86_64", "--platform", "manylinux_2_17_x86_64",
         "-d", str(folder), WHEEL_SPEC],
        check=True,
    )
    return next(folder.glob("mediapipe-0.10.21-*.whl"))


def extract(wheel: Path, target: Path) -> None:
    """Copy each model out of the wheel into ``target`` and verify its pinned sha256."""
    by_file = {spec.filename: spec for spec in REGISTRY.values()}
    with zipfile.ZipFile(wheel) as zf:
        for name, member in MEMBERS.items():
            data = zf.read(member)
            digest = hashlib.sha256(data).hexdigest()
            if digest != by_file[name].sha256:
                raise SystemExit(f"{name}: sha256 {digest} does not match the pinned value")
            (target / name).write_bytes(data)
            print(f"{name}: {len(data)} bytes, sha256 ok")
        licence = zf.read("mediapipe-0.10.21.dist-info/LICENSE")
        (target / "LICENSE-APACHE-2.0.txt").write_bytes(licence)
        print("LICENSE-APACHE-2.0.txt: MediaPipe's licence text, copied from the wheel")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, help="a local mediapipe-0.10.21 wheel")
    parser.add_argument("--out", type=Path, default=PACKAGED_DIR)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.wheel or download_wheel(Path(tmp))
        extract(wheel, args.out)


if __name__ == "__main__":
    main()
