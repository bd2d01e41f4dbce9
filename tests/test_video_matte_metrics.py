"""The video matte metrics on synthetic mattes where the answer is exact."""

from __future__ import annotations

import numpy as np

from livebokeh.eval.matte_quality import Clip, clip_scores, dtssd, static_flips


def moving_square(frames: int = 6, step: int = 2) -> list[np.ndarray]:
    masks = []
    for t in range(frames):
        mask = np.zeros((40, 60), bool)
        mask[10:30, 5 + step * t:25 + step * t] = True
        masks.append(mask)
    return masks


def test_dtssd_is_zero_for_a_perfect_matte_and_counts_lag_exactly():
    truth = moving_square()  # a 20x20 square moving 2 px per frame in a 40x60 frame
    assert dtssd([m.astype(np.float32) for m in truth], truth) == 0.0
    lagged = [truth[0]] + truth[:-1]  # one frame late
    # first pair: the matte stands still while the truth's two 2x20 strips change (80 px);
    # later pairs: the matte's strips and the truth's are 2 px apart, 4 strips (160 px)
    first, later = np.sqrt(80 / 2400), np.sqrt(160 / 2400)
    expected = 100 * (first + 4 * later) / 5
    assert abs(dtssd([m.astype(np.float32) for m in lagged], truth) - expected) < 1e-4


def test_static_flips_counts_label_changes_on_static_pixels_only():
    still = np.zeros((10, 10), np.float32)
    flicker = still.copy()
    flicker[0, 0] = 1.0
    static = np.ones((10, 10), bool)
    static[5:, :] = False
    assert static_flips([still, flicker], [static]) == 1 / 50
    assert static_flips([still, still], [static]) == 0.0


def test_clip_scores_of_the_truth_itself():
    truth = moving_square()
    clip = Clip("square", [np.zeros((40, 60, 3), np.uint8)] * len(truth), truth)
    scores = clip_scores(clip, [m.astype(np.float32) for m in truth])
    assert scores == {"iou": 1.0, "boundary_f": 1.0, "dtssd": 0.0}
