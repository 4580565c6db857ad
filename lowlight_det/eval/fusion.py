"""Two views, one set of detections: weighted box fusion (Solovyev et al., 2021) of COCO-format predictions.

``--fuse`` merges the detections on the raw image with those on each enhanced one, and, as the fair control,
with those on the raw image flipped horizontally: any two views of an image fused this way gain something, so
only what the enhanced view adds beyond the flip is what enhancement contributes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
from torch import Tensor, nn

FUSE_IOU = 0.55
"""Boxes of one class overlapping more than this are one object (the WBF paper's default)."""


class HorizontalFlip(nn.Module):
    """The detector input mirrored left to right (the control view of ``--fuse``); predictions must be
    mirrored back (:func:`unflip`)."""

    differentiable = True

    def forward(self, img: Tensor) -> Tensor:
        return img.flip(-1)


def unflip(predictions: Sequence[dict[str, Any]], widths: dict[int, int]) -> list[dict[str, Any]]:
    """Boxes predicted on mirrored images, back in the original image's pixels.

    Example:
        >>> unflip([{"image_id": 1, "category_id": 1, "bbox": [10, 5, 20, 8], "score": 0.9}], {1: 100})[0]["bbox"]
        [70, 5, 20, 8]
    """
    out = []
    for p in predictions:
        x, y, w, h = p["bbox"]
        out.append({**p, "bbox": [widths[int(p["image_id"])] - x - w, y, w, h]})
    return out


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    lt = np.maximum(box[:2], boxes[:, :2])
    rb = np.minimum(box[2:], boxes[:, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=1)
    area = lambda b: (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])  # noqa: E731
    return inter / np.maximum(area(box) + area(boxes) - inter, 1e-9)


def weighted_box_fusion(views: Sequence[Sequence[dict[str, Any]]], *, iou: float = FUSE_IOU,
                        max_det: int = 300) -> list[dict[str, Any]]:
    """Fuse the COCO predictions of several views of the same images.

    Per image and class, boxes are taken by falling score; a box joins the first cluster whose fused box it
    overlaps by more than ``iou``, else starts one. A cluster's box is the score-weighted mean of its boxes and
    its score the sum of its scores divided by the number of views (a box seen in one view of two keeps half).

    Example:
        >>> a = [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.8}]
        >>> b = [{"image_id": 1, "category_id": 1, "bbox": [2, 0, 10, 10], "score": 0.4}]
        >>> fused = weighted_box_fusion([a, b])
        >>> [round(v, 2) for v in fused[0]["bbox"]], round(fused[0]["score"], 2)
        ([0.67, 0.0, 10.0, 10.0], 0.6)
    """
    groups: dict[tuple[int, int], list[tuple[float, np.ndarray]]] = defaultdict(list)
    for view in views:
        for p in view:
            x, y, w, h = p["bbox"]
            groups[(int(p["image_id"]), int(p["category_id"]))].append((float(p["score"]), np.array([x, y, x + w, y + h])))
    by_image: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for (image_id, category), items in groups.items():
        items.sort(key=lambda s: -s[0])
        boxes: list[np.ndarray] = []     # fused box of each cluster
        weighted: list[np.ndarray] = []  # Σ score · box
        scores: list[float] = []         # Σ score
        for score, box in items:
            k = -1
            if boxes:
                overlap = _iou(box, np.stack(boxes))
                k = int(overlap.argmax()) if overlap.max() > iou else -1
            if k < 0:
                boxes.append(box.copy())
                weighted.append(score * box)
                scores.append(score)
                continue
            weighted[k] = weighted[k] + score * box
            scores[k] += score
            boxes[k] = weighted[k] / scores[k]
        for box, score_sum in zip(boxes, scores, strict=True):
            x1, y1, x2, y2 = box.tolist()
            by_image[image_id].append({"image_id": image_id, "category_id": category, "bbox": [x1, y1, x2 - x1, y2 - y1],
                                       "score": score_sum / len(views)})
    out: list[dict[str, Any]] = []
    for image_id in sorted(by_image):
        out += sorted(by_image[image_id], key=lambda p: -p["score"])[:max_det]
    return out


def fused_name(partner: str) -> str:
    """The row of ``partner`` fused with ``none`` on the same images.

    Example:
        >>> fused_name("gamma@ev3"), fused_name("flip")
        ('fused-gamma@ev3', 'fused-flip')
    """
    return f"fused-{partner}"


def fuse_rows(results: Sequence[Any], read_predictions: Any, write_predictions: Any, gt: dict[str, Any], *,
              max_det: int, make_result: Any) -> list[Any]:
    """The fused rows: every enhanced row (and the mirrored control) of a darkness level, each fused with that
    level's ``none`` row. ``read_predictions(name)`` / ``write_predictions(name, preds)`` reach the prediction
    files; ``make_result(name, partner, none, preds, fusion_ms)`` builds the result row."""
    import time

    from lowlight_det.eval.darkness import baseline_of

    by_name = {r.name: r for r in results}
    rows = []
    for partner in results:
        none = by_name.get(baseline_of(partner.name))
        if none is None or partner.name == none.name or partner.enhancer == "none" and not partner.name.startswith("flip"):
            continue
        t0 = time.perf_counter()
        fused = weighted_box_fusion([read_predictions(none.name), read_predictions(partner.name)], max_det=max_det)
        fusion_ms = 1e3 * (time.perf_counter() - t0) / max(partner.images, 1)
        name = fused_name(partner.name)
        write_predictions(name, fused)
        rows.append(make_result(name, partner, none, fused, fusion_ms))
    return rows
