"""Evaluation: COCO mAP of enhancer + detector on dark datasets (``python -m lowlight_det.eval``).

``validate`` is the small public piece other layers (fine-tuning) use: the evaluator's pipeline and metric on
a list of images; ``dataset_predictions`` and ``coco_map`` score a detector's raw predictions the same way.
"""

from __future__ import annotations

from lowlight_det.eval.coco import coco_map, paired_delta_map50
from lowlight_det.eval.runner import Validation, dataset_predictions, predict, validate

__all__ = ["Validation", "coco_map", "dataset_predictions", "paired_delta_map50", "predict", "validate"]
