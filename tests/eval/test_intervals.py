"""Paired mAP50 differences with an interval over image half-samples (real pycocotools)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from lowlight_det.eval.coco import _Ap50Evaluator, _coco_from_dict, coco_map, paired_delta_map50, paired_deltas_map50


def _scene(n: int = 40, seed: int = 0) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """GT with one or two boxes per image; predictions ``good`` (jittered, plus a false positive) and
    ``worse`` (misses the boxes of every third image)."""
    rng = np.random.default_rng(seed)
    images, anns, good = [], [], []
    for i in range(1, n + 1):
        images.append({"id": i, "width": 200, "height": 200})
        for j in range(1 + i % 2):
            x, y, w, h = (float(v) for v in rng.uniform([0, 0, 20, 20], [100, 100, 80, 80]))
            cat = 1 + (i + j) % 3
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": cat, "bbox": [x, y, w, h],
                         "area": w * h, "iscrowd": 0})
            jit = rng.normal(0, 3, 4)
            good.append({"image_id": i, "category_id": cat, "bbox": [x + jit[0], y + jit[1], w + jit[2], h + jit[3]],
                         "score": float(rng.uniform(0.3, 1))})
        good.append({"image_id": i, "category_id": 1 + i % 3, "bbox": [150.0, 150.0, 30.0, 30.0],
                     "score": float(rng.uniform(0, 0.6))})
    gt = {"images": images, "annotations": anns, "categories": [{"id": c, "name": str(c)} for c in (1, 2, 3)]}
    worse = [p for p in good if p["image_id"] % 3 or p["bbox"][0] == 150.0]
    return gt, good, worse


def test_subset_ap50_matches_a_fresh_coco_evaluation() -> None:
    gt, good, _ = _scene()
    ev = _Ap50Evaluator(_coco_from_dict(gt), good, list(range(1, 41)))
    assert ev.ap50() == pytest.approx(coco_map(gt, good).map50, abs=1e-3)
    keep = set(range(1, 41, 3)) | {2, 8}
    assert ev.ap50(keep) == pytest.approx(coco_map(gt, good, image_ids=keep).map50, abs=1e-3)
    assert ev.ap50() == pytest.approx(coco_map(gt, good).map50, abs=1e-3)  # blanking is undone


def test_paired_delta_and_its_interval() -> None:
    gt, good, worse = _scene()
    d = paired_delta_map50(gt, good, worse, resamples=30)
    assert d.delta == pytest.approx(coco_map(gt, worse).map50 - coco_map(gt, good).map50, abs=1e-3)
    assert d.delta < -10 and d.std > 0 and d.high < 0  # a real loss: the interval excludes 0
    assert d.low == pytest.approx(d.delta - 1.959964 * d.std, abs=1e-3)
    same = paired_delta_map50(gt, good, good, resamples=5)
    assert same.delta == 0 and same.std == 0 and same.low == same.high == 0
    assert paired_delta_map50(gt, good, worse, resamples=30).as_dict() == d.as_dict()  # seeded
    with pytest.raises(ValueError, match="resamples"):
        paired_delta_map50(gt, good, worse, resamples=1)


def test_several_rows_against_one_baseline_match_the_pairwise_intervals() -> None:
    gt, good, worse = _scene()
    both = paired_deltas_map50(gt, good, {"worse": worse, "same": good}, resamples=12)
    assert both["worse"] == paired_delta_map50(gt, good, worse, resamples=12)
    assert both["same"].delta == 0 and both["same"].std == 0
