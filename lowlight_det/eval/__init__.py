"""Evaluation: COCO mAP of enhancer + detector on dark datasets (``python -m lowlight_det.eval``)."""
