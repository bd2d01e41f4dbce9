"""Render ``assets/portrait.jpg``: a synthetic head-and-shoulders portrait for the README demo.

Drawn from scratch (no photo from anywhere), deterministic, with what shows off a portrait
lens: a person in front of a room with shelves, a window and small bright lights that should
bloom into bokeh discs. The script checks that the shipped MediaPipe selfie model sees the
drawn person (mean confidence inside the silhouette high, outside low).

    python scripts/make_demo_asset.py [--out assets/portrait.jpg]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

WIDTH, HEIGHT = 1280, 853
REPO = Path(__file__).resolve().parents[1]


def shaded_ellipse(canvas, centre, axes, colour, light=(-0.4, -0.5), angle=0):
    """Fill an ellipse with simple Lambert-like shading (RGB, float canvas 0..255)."""
    mask = np.zeros(canvas.shape[:2], np.float32)
    cv2.ellipse(mask, centre, axes, angle, 0, 360, 1.0, -1, cv2.LINE_AA)
    yy, xx = np.mgrid[0:canvas.shape[0], 0:canvas.shape[1]].astype(np.float32)
    nx, ny = (xx - centre[0]) / axes[0], (yy - centre[1]) / axes[1]
    shade = np.clip(0.75 - 0.35 * (nx * light[0] + ny * light[1]) - 0.25 * (nx**2 + ny**2),
                    0.35, 1.1)
    colour = np.asarray(colour, np.float32)
    canvas[:] = canvas * (1 - mask[..., None]) + (shade[..., None] * colour) * mask[..., None]
    return mask


def room(rng) -> np.ndarray:
    """Warm room: wall gradient, window, shelves with books, string lights."""
    yy = np.linspace(0, 1, HEIGHT, dtype=np.float32)[:, None, None]
    img = (np.array([70, 58, 50], np.float32) * (1.2 - 0.5 * yy)).repeat(WIDTH, 1)
    cv2.rectangle(img, (60, 90), (380, 520), (190, 205, 220), -1)  # window
    cv2.rectangle(img, (60, 90), (380, 520), (60, 50, 40), 10)
    cv2.line(img, (220, 90), (220, 520), (60, 50, 40), 8)
    for shelf_y in (260, 430, 600):  # shelves with books on the right
        cv2.rectangle(img, (860, shelf_y), (1260, shelf_y + 14), (95, 70, 45), -1)
        x = 870
        while x < 1240:
            w = int(rng.integers(14, 34))
            h = int(rng.integers(70, 130))
            colour = tuple(int(c) for c in rng.integers(40, 200, 3))
            cv2.rectangle(img, (x, shelf_y - h), (x + w, shelf_y), colour, -1)
            x += w + int(rng.integers(1, 6))
    noise = rng.normal(0, 6, (HEIGHT // 4, WIDTH // 4, 1)).astype(np.float32)
    img += cv2.resize(noise, (WIDTH, HEIGHT))[..., None]
    for i in range(26):  # a garland of small warm lights
        x = int(40 + i * 47 + rng.integers(-6, 6))
        y = int(60 + 40 * np.sin(i / 3.0) + rng.integers(-5, 5))
        cv2.circle(img, (x, y), 5, (255, 236, 190), -1, cv2.LINE_AA)
    return img


def person(img) -> np.ndarray:
    """Draw the subject; returns its silhouette (float32 0..1)."""
    cx = 640
    torso = np.array([[cx - 330, HEIGHT], [cx - 300, 700], [cx - 200, 600], [cx - 70, 565],
                      [cx + 70, 565], [cx + 200, 600], [cx + 300, 700], [cx + 330, HEIGHT]],
                     np.int32)
    sil = np.zeros((HEIGHT, WIDTH), np.float32)
    cv2.fillPoly(sil, [torso], 1.0, cv2.LINE_AA)
    cv2.fillPoly(img, [torso], (52, 78, 120), cv2.LINE_AA)  # blue sweater
    cv2.ellipse(img, (cx, 585), (75, 30), 0, 0, 180, (40, 60, 95), 6, cv2.LINE_AA)  # collar
    sil = np.maximum(sil, shaded_ellipse(img, (cx, 520), (62, 80), (205, 150, 120)))  # neck
    sil = np.maximum(sil, shaded_ellipse(img, (cx, 380), (118, 150), (225, 170, 138)))  # face
    hair = np.zeros_like(sil)
    cv2.ellipse(hair, (cx, 330), (130, 120), 0, 180, 360, 1.0, -1, cv2.LINE_AA)
    cv2.ellipse(hair, (cx, 300), (128, 75), 0, 0, 360, 1.0, -1, cv2.LINE_AA)
    img[:] = img * (1 - hair[..., None]) + np.array([45, 32, 25], np.float32) * hair[..., None]
    sil = np.maximum(sil, hair)
    for ex in (cx - 45, cx + 45):  # eyes, brows
        cv2.ellipse(img, (ex, 375), (20, 10), 0, 0, 360, (245, 245, 240), -1, cv2.LINE_AA)
        cv2.circle(img, (ex, 376), 8, (70, 50, 35), -1, cv2.LINE_AA)
        cv2.circle(img, (ex, 376), 3, (10, 10, 10), -1, cv2.LINE_AA)
        cv2.ellipse(img, (ex, 350), (26, 7), 0, 190, 350, (50, 35, 28), 5, cv2.LINE_AA)
    cv2.line(img, (cx, 385), (cx - 8, 430), (180, 120, 95), 4, cv2.LINE_AA)  # nose
    cv2.ellipse(img, (cx, 465), (38, 14), 0, 10, 170, (170, 80, 80), 6, cv2.LINE_AA)  # smile
    for ex in (cx - 122, cx + 122):  # ears
        sil = np.maximum(sil, shaded_ellipse(img, (ex, 390), (16, 32), (215, 160, 130)))
    return sil


def render(seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """The portrait (RGB uint8) and its person silhouette (float32 0..1)."""
    rng = np.random.default_rng(seed)
    img = room(rng)
    sil = person(img)
    grain = rng.normal(0, 2.0, img.shape).astype(np.float32)
    return np.clip(img + grain, 0, 255).astype(np.uint8), sil


def check(rgb: np.ndarray, silhouette: np.ndarray) -> tuple[float, float]:
    """Mean selfie-model confidence inside and outside the drawn person."""
    from livebokeh.pipeline import BokehProcessor

    with BokehProcessor(video=False) as processor:
        matte = processor.compute_matte(rgb)
    inside = float(matte[silhouette > 0.5].mean())
    outside = float(matte[silhouette < 0.05].mean())
    return inside, outside


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "assets" / "portrait.jpg")
    args = parser.parse_args()
    rgb, silhouette = render()
    inside, outside = check(rgb, silhouette)
    print(f"selfie matte: inside the person {inside:.2f}, outside {outside:.2f}")
    if inside < 0.7 or outside > 0.15:
        raise SystemExit("the model does not see the drawn person well enough")
    cv2.imwrite(str(args.out), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                [cv2.IMWRITE_JPEG_QUALITY, 90])
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
