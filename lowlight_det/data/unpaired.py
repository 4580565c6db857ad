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

    def split(self, n: int, seed: int) -> list[Path]:
        """Leave ``n`` files out (a seeded sample, sorted) and return them; ``self.files`` keeps the rest.

        Raises:
            ValueError: ``n`` leaves no image to train on.
        """
        if n <= 0:
            return []
        if n >= len(self.files):
            raise ValueError(f"hold-out of {n} images leaves none of the {len(self.files)} under {self.root} to "
                             "train on")
        order = torch.randperm(len(self.files), generator=torch.Generator().manual_seed(seed)).tolist()
        held = set(order[:n])
        out = [f for i, f in enumerate(self.files) if i in held]
        self.files = [f for i, f in enumerate(self.files) if i not in held]
        return out

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> Tensor:
        rgb = read_image(self.files[index]).rgb
        if rgb.shape[:2] != (self.image_size, self.image_size):
            rgb = cv2.resize(rgb, (self.image_size, self.image_size), interpolation=cv2.INTER_AREA)
        return torch.from_numpy(rgb).permute(2, 0, 1).contiguous()
