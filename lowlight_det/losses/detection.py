"""Detection loss of a frozen detector, as a function of the (enhanced) input image."""

from __future__ import annotations

from typing import Any, cast

import torch
from torch import Tensor, nn


def freeze(model: nn.Module) -> nn.Module:
    """Eval mode and no gradients for ``model``'s weights (gradients still reach its input)."""
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def detection_loss(detector: nn.Module, img: Tensor, targets: dict[str, Tensor], *,
                   criterion: Any = None) -> tuple[Tensor, Tensor]:
    """The detector's own training loss on ``img``, differentiable w.r.t. ``img``.

    Args:
        detector: a model exposing ``loss(batch)`` in the Ultralytics convention (``DetectionModel``),
            frozen with :func:`freeze`.
        img: (B, 3, H, W) RGB in [0, 1], the letterboxed detector input.
        targets: ``batch_idx`` (N,), ``cls`` (N, 1), ``bboxes`` (N, 4) normalised xywh.
        criterion: a loss of the detector's own kind to use instead of its default one (called on the detector's
            outputs and the batch, as the detector calls its own), e.g. one that scores only some classes.

    Returns:
        (loss per image, detached loss items (box, cls, dfl)).
    """
    batch: dict[str, Any] = {"img": img, **targets}
    if criterion is None:
        loss, items = cast(Any, detector).loss(batch)  # Ultralytics DetectionModel.loss
    else:
        loss, items = criterion(detector(img), batch)
    return loss.sum() / img.shape[0], items.detach() if isinstance(items, Tensor) else torch.as_tensor(0.0)
