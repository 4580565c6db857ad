"""Unpaired image folders for zero-reference training."""

from __future__ import annotations

from pathlib import Path

import cv2
import torch
from torch import Tensor
from torch.utils.data import Dataset

from lowlight_det.io import IMAGE_EXTENSIONS, find_files, read_image


class ImageFolder(Dataset[Tensor]):
    """All images under ``root`` (recursive; jpg/png/bmp/tif/webp, any case), resized to a square.

    Items are float32 RGB tensors (3, S, S) in [0, 1].

    Raises:
        FileNotFoundError: no images under ``root``.
    """

    def __init__(self, root: str | Path, *, image_size: int = 256) -> None:
        self.root = Path(root)
        self.image_size = image_size
        self.files = find_files([self.root], IMAGE_EXTENSIONS)
        if not self.files:
            raise FileNotFoundError(f"no images ({', '.join(sorted(IMAGE_EXTENSIONS))}) under {self.root}")

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> Tensor:
        rgb = read_image(self.files[index]).rgb
        if rgb.shape[:2] != (self.image_size, self.image_size):
            rgb = cv2.resize(rgb, (self.image_size, self.image_size), interpolation=cv2.INTER_AREA)
        return torch.from_numpy(rgb).permute(2, 0, 1).contiguous()
