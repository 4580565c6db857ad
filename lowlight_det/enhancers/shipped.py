"""Weights trained by lowlight_det itself and shipped in ``lowlight_det/weights/``."""

from __future__ import annotations

from lowlight_det.enhancers.weights import WeightsSpec, register_weights

# Filled in by benchmarks/train_shipped_weights.sh once the weights are trained.
