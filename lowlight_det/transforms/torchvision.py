"""A torchvision ``transforms.v2`` transform that enhances images and passes every target through."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torchvision import tv_tensors
from torchvision.transforms import v2

from lowlight_det.enhancers.apply import enhance_tensor


class EnhanceTransform(v2.Transform):
    """Photometric transform: enhance ``(3,H,W)`` / ``(B,3,H,W)`` uint8 or float images.

    Works in ``transforms.v2.Compose`` with boxes, masks and labels, which come back untouched.
    Images keep their shape, dtype and tv_tensor type; inputs are never modified.

    Args:
        enhancer: an enhancer module (see ``create_enhancer``); it is put in eval mode.

    Example:
        >>> from lowlight_det import create_enhancer
        >>> t = EnhanceTransform(create_enhancer("gamma"))
        >>> img = tv_tensors.Image(torch.full((3, 4, 4), 64, dtype=torch.uint8))
        >>> out = t(img)
        >>> type(out).__name__, out.dtype, out[0, 0, 0].item()
        ('Image', torch.uint8, 128)
    """

    def __init__(self, enhancer: nn.Module) -> None:
        super().__init__()
        self.enhancer = enhancer.eval()

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if isinstance(inpt, tv_tensors.TVTensor) and not isinstance(inpt, tv_tensors.Image):
            return inpt  # boxes, masks, ...: photometric transform, geometry untouched
        if not isinstance(inpt, torch.Tensor):
            return inpt
        with torch.no_grad():
            out = enhance_tensor(self.enhancer, inpt.as_subclass(torch.Tensor))
        return tv_tensors.wrap(out, like=inpt) if isinstance(inpt, tv_tensors.Image) else out

    def _transform(self, inpt: Any, params: dict[str, Any]) -> Any:  # torchvision < 0.21
        return self.transform(inpt, params)
