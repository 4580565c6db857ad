"""Weights trained by lowlight_det itself and shipped in ``lowlight_det/weights/``."""

from __future__ import annotations


# Filled in by benchmarks/train_shipped_weights.sh once the weights are trained.
