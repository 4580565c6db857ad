"""COCO metrics with pycocotools on our own COCO json (the headline numbers)."""

from __future__ import annotations

import contextlib
import copy
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from statistics import NormalDist
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


@dataclass
class DeltaInterval:
    """Paired difference of mAP50 (``b`` − ``a``, points) with a normal-approximation interval.

    ``std`` is the spread of the difference over random half-samples of the images (both rows scored
    on the same half each time); for a statistic like mAP, half-sampling without replacement has about
    the variance of the full-sample statistic, so ``delta ± z·std`` is an interval for the difference
    that reflects which images happened to be in the test set. Seed noise is not included.
    """

    delta: float
    std: float
    low: float
    high: float
    resamples: int
    level: float

    def as_dict(self) -> dict[str, Any]:
        return {k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(self).items()}


class _Ap50Evaluator:
    """COCOeval run once; AP50 then re-accumulated on image subsets (no re-matching)."""

    def __init__(self, coco_gt: COCO, predictions: Sequence[Mapping[str, Any]], ids: list[int]) -> None:
        with _quiet():
            self.ev = COCOeval(coco_gt, coco_gt.loadRes([dict(p) for p in predictions]), "bbox")
            self.ev.params.imgIds = ids
            self.ev.params.iouThrs = np.array([0.5])
            self.ev.evaluate()
        self.all = list(self.ev.evalImgs)

    def ap50(self, keep: set[int] | None = None) -> float:
        # accumulate() indexes evalImgs by the evaluated image list, so images outside ``keep`` are blanked
        self.ev.evalImgs = self.all if keep is None else [e if e is None or e["image_id"] in keep else None
                                                          for e in self.all]
        with _quiet():
            self.ev.accumulate()
        prec = self.ev.eval["precision"][0, :, :, 0, -1]  # [R, K] at IoU 0.5, all areas, maxDets 100
        valid = prec[prec > -1]
        return 100.0 * float(valid.mean()) if valid.size else 0.0


def paired_delta_map50(gt: Mapping[str, Any], predictions_a: Sequence[Mapping[str, Any]],
                       predictions_b: Sequence[Mapping[str, Any]], *, resamples: int = 200, level: float = 0.95,
                       seed: int = 0) -> DeltaInterval:
    """mAP50 of ``predictions_b`` minus that of ``predictions_a`` on the same images, with an interval.

    Args:
        gt: COCO ground-truth dict.
        predictions_a, predictions_b: COCO results of two rows (e.g. ``none`` and a tuned enhancer).
        resamples: random half-samples of the images with ground truth.
        level: two-sided coverage of the interval.
        seed: of the half-samples (the same halves for both rows).

    Returns:
        :class:`DeltaInterval`; ``delta`` matches the difference of :func:`coco_map`'s ``map50``.
    """
    return paired_deltas_map50(gt, predictions_a, {"b": predictions_b}, resamples=resamples, level=level,
                               seed=seed)["b"]


def paired_deltas_map50(gt: Mapping[str, Any], baseline: Sequence[Mapping[str, Any]],
                        rows: Mapping[str, Sequence[Mapping[str, Any]]], *, resamples: int = 200,
                        level: float = 0.95, seed: int = 0) -> dict[str, DeltaInterval]:
    """:func:`paired_delta_map50` of every row against one ``baseline``, which is matched and scored on
    each half-sample once for all rows (every row sees the same halves)."""
    if resamples < 2:
        raise ValueError(f"resamples must be >= 2, got {resamples}")
    coco_gt = _coco_from_dict(gt)
    ids = sorted(coco_gt.getImgIds())
    with_boxes = sorted({a["image_id"] for a in gt["annotations"]})
    rng = np.random.default_rng(seed)
    halves = [set(rng.choice(with_boxes, size=len(with_boxes) // 2, replace=False).tolist())
              for _ in range(resamples)]
    base = _Ap50Evaluator(coco_gt, baseline, ids)
    base_full, base_halves = base.ap50(), [base.ap50(h) for h in halves]
    z = float(NormalDist().inv_cdf(0.5 + level / 2))
    out = {}
    for name, preds in rows.items():
        row = _Ap50Evaluator(coco_gt, preds, ids)
        delta = row.ap50() - base_full
        std = float(np.std([row.ap50(h) - b for h, b in zip(halves, base_halves, strict=True)], ddof=1))
        out[name] = DeltaInterval(delta, std, delta - z * std, delta + z * std, resamples, level)
    return out


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
