"""Two views, one set of detections: weighted box fusion (Solovyev et al., 2021) of COCO-format predictions.

``--fuse`` merges the detections on the raw image with those on each enhanced one, and, as the fair control,
with those on the raw image flipped horizontally: any two views of an image fused this way gain something, so
only what the enhanced view adds beyond the flip is what enhancement contributes.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from torch import Tensor, nn

from lowlight_det.eval.coco import coco_map, paired_delta_map50, sliced_map50
from lowlight_det.eval.darkness import baseline_of
from lowlight_det.io import write_json

if TYPE_CHECKING:  # runner imports this module (HorizontalFlip, unflip); the result type is only annotated here
    from lowlight_det.eval.runner import EnhancerResult

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


def fused_results(results: Sequence[EnhancerResult], gt: dict[str, Any], predictions: Callable[[str], list[Any]],
                  out: Path, *, max_det: int) -> list[EnhancerResult]:
    """``--fuse``: every enhanced row (and the mirrored control) of a darkness level fused with that level's
    ``none`` row; writes ``predictions_<fused row>.json`` and returns the rows (no detector run)."""
    from lowlight_det.eval.runner import EnhancerResult  # runner imports this module

    by_name = {r.name: r for r in results}
    rows = []
    for partner in results:
        none = by_name.get(baseline_of(partner.name))
        mirrored = partner.name.startswith("flip")
        if none is None or partner.name == none.name or (partner.enhancer == "none" and not mirrored):
            continue
        t0 = time.perf_counter()
        fused = weighted_box_fusion([predictions(none.name), predictions(partner.name)], max_det=max_det)
        name = fused_name(partner.name)
        write_json(out / f"predictions_{name}.json", fused)
        timing = {"decode": partner.timing_ms.get("decode", 0.0), "enhance": partner.timing_ms.get("enhance", 0.0),
                  "detect": round(partner.timing_ms.get("detect", 0.0) + none.timing_ms.get("detect", 0.0), 2),
                  "fusion": round(1e3 * (time.perf_counter() - t0) / max(partner.images, 1), 2)}
        timing["total"] = round(sum(timing.values()), 2)
        rows.append(EnhancerResult(
            name=name, enhancer=f"fused:{'flip' if mirrored else partner.enhancer}",
            label="none ∪ mirrored none (control)" if mirrored else f"none ∪ {partner.enhancer} (fused)",
            weights=partner.weights, metrics=coco_map(gt, fused).as_dict(), by_light=sliced_map50(gt, fused, "light"),
            by_scene=sliced_map50(gt, fused, "scene"), timing_ms=timing, images=partner.images,
            predictions=len(fused), fingerprint=f"{partner.fingerprint}+{none.fingerprint}",
            darken_ev=partner.darken_ev))
    return rows


def fusion_summary(results: Sequence[EnhancerResult], gt: dict[str, Any], predictions: Callable[[str], list[Any]],
                   delta: dict[str, dict[str, Any]], *, resamples: int) -> dict[str, Any]:
    """Per fused enhanced row: its Δ mAP50 vs none and vs the control (none fused with its mirror) on the same
    images, the latter with a paired 95% interval: what enhancement adds beyond any second view."""
    names = {r.name for r in results}
    summary = {}
    for r in results:
        if not r.enhancer.startswith("fused:") or r.enhancer == "fused:flip":
            continue
        control = "fused-flip" + r.name[r.name.index("@"):] if "@" in r.name else "fused-flip"
        if control not in names:
            continue
        d = paired_delta_map50(gt, predictions(control), predictions(r.name), resamples=resamples)
        summary[r.name] = {"control": control, "delta_map50_vs_none": delta.get(r.name, {}).get("map50"),
                           "control_delta_map50_vs_none": delta.get(control, {}).get("map50"),
                           "delta_map50_vs_control": round(d.delta, 3), "ci95": [round(d.low, 3), round(d.high, 3)],
                           "ms_per_image": r.timing_ms.get("total")}
    return summary


def fusion_lines(summary: dict[str, Any]) -> list[str]:
    """Markdown lines of :func:`fusion_summary`."""
    lines = ["### Fusion with the raw view (weighted box fusion)", "",
             "| fused row | Δ mAP50 vs none | control (none ∪ mirrored none) | Δ vs control [95%] | ms/image |",
             "|---|---:|---:|---:|---:|"]
    for name, s in summary.items():
        lo, hi = s["ci95"]
        lines.append(f"| {name} | {s['delta_map50_vs_none']:+.1f} | {s['control_delta_map50_vs_none']:+.1f} | "
                     f"{s['delta_map50_vs_control']:+.1f} [{lo:+.1f}, {hi:+.1f}] | {s['ms_per_image']:.0f} |")
    return [*lines, "", "Any two views fused gain something; only Δ vs control is what the enhanced view adds.", ""]
