"""COCO metrics with pycocotools on our own COCO json (the headline numbers)."""

from __future__ import annotations

import contextlib
import copy
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval


@dataclass
class CocoMetrics:
    """mAP50-95, mAP50 and AP by object size, in percent, plus per-class AP50 (None: no ground truth)."""

    map50_95: float
    map50: float
    ap_small: float
    ap_medium: float
    ap_large: float
    per_class_ap50: dict[str, float | None]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _quiet() -> contextlib.AbstractContextManager[Any]:
    return contextlib.redirect_stdout(io.StringIO())


def _coco_from_dict(gt: Mapping[str, Any]) -> COCO:
    coco = COCO()
    coco.dataset = copy.deepcopy(dict(gt))
    with _quiet():
        coco.createIndex()
    return coco


def _pct(x: float) -> float:
    return float("nan") if x < 0 else round(100.0 * float(x), 3)


def coco_map(gt: Mapping[str, Any], predictions: Sequence[Mapping[str, Any]], *,
             image_ids: Iterable[int] | None = None) -> CocoMetrics:
    """COCO bbox metrics of ``predictions`` (``image_id, category_id, bbox xywh, score``) against ``gt``.

    Args:
        gt: COCO ground-truth dict.
        predictions: COCO results list.
        image_ids: restrict to these images (for per-lighting / per-scene slices).

    Returns:
        :class:`CocoMetrics` in percent. With no predictions, every AP is 0.
    """
    coco_gt = _coco_from_dict(gt)
    ids = sorted(image_ids) if image_ids is not None else sorted(coco_gt.getImgIds())
    cats = coco_gt.loadCats(coco_gt.getCatIds())
    idset = set(ids)
    preds = [p for p in predictions if p["image_id"] in idset]
    if not preds or not ids:
        return CocoMetrics(0.0, 0.0, 0.0, 0.0, 0.0, {c["name"]: _class_or_none(coco_gt, c["id"], ids, 0.0)
                                                  for c in cats})
    with _quiet():
        coco_dt = coco_gt.loadRes([dict(p) for p in preds])
        ev = COCOeval(coco_gt, coco_dt, "bbox")
        ev.params.imgIds = ids
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    s = ev.stats
    precision = ev.eval["precision"]  # [T, R, K, A, M]
    per_class: dict[str, float | None] = {}
    for k, cat in enumerate(cats):
        p = precision[0, :, k, 0, -1]
        p = p[p > -1]
        per_class[cat["name"]] = round(100.0 * float(p.mean()), 3) if p.size else None
    return CocoMetrics(_pct(s[0]), _pct(s[1]), _pct(s[3]), _pct(s[4]), _pct(s[5]), per_class)


def _class_or_none(coco_gt: COCO, cat_id: int, ids: list[int], value: float) -> float | None:
    return value if coco_gt.getAnnIds(imgIds=ids, catIds=[cat_id]) else None


def sliced_map50(gt: Mapping[str, Any], predictions: Sequence[Mapping[str, Any]], key: str) -> dict[str, float]:
    """mAP50 per value of image attribute ``key`` (e.g. ``light``, ``scene``), images without boxes excluded."""
    with_boxes = {a["image_id"] for a in gt["annotations"]}
    groups: dict[str, list[int]] = {}
    for im in gt["images"]:
        if key in im and im["id"] in with_boxes:
            groups.setdefault(str(im[key]), []).append(im["id"])
    return {value: coco_map(gt, predictions, image_ids=ids).map50 for value, ids in sorted(groups.items())}


def to_coco_predictions(image_id: int, boxes_xyxy: np.ndarray, scores: np.ndarray, labels: np.ndarray) -> list[dict]:
    """COCO results for one image; ``labels`` are dataset class indices (category id = index + 1)."""
    out = []
    for (x1, y1, x2, y2), s, c in zip(boxes_xyxy.tolist(), scores.tolist(), labels.tolist(), strict=True):
        out.append({"image_id": int(image_id), "category_id": int(c) + 1,
                    "bbox": [round(x1, 2), round(y1, 2), round(x2 - x1, 2), round(y2 - y1, 2)],
                    "score": round(float(s), 5)})
    return out


def finite(x: float | None) -> bool:
    """True for a real number (not None / NaN)."""
    return x is not None and not math.isnan(x)
