"""Evaluation: COCO mAP of enhancer + detector on dark datasets (``python -m lowlight_det.eval``).

``validate`` is the small public piece other layers (fine-tuning) use: the evaluator's pipeline and metric on
a list of images.
"""

from __future__ import annotations

from lowlight_det.eval.coco import paired_delta_map50
from lowlight_det.eval.runner import Validation, validate

__all__ = ["Validation", "paired_delta_map50", "validate"]
