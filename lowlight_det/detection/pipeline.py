"""``EnhancedDetector``: enhancer + YOLO on one device, batched, with per-stage timings."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from lowlight_det.detection.ultralytics import EnhancedDetectionPredictor, build_detector
from lowlight_det.enhancers import create_enhancer
from lowlight_det.enhancers.apply import enhance_tensor

logger = logging.getLogger(__name__)


@dataclass
class Detections:
    """Detections for one image in original-image pixels."""

    boxes_xyxy: np.ndarray  # (N, 4) float32
    scores: np.ndarray      # (N,) float32
    classes: np.ndarray     # (N,) int64 detector class ids


@dataclass
class StageTimes:
    """Accumulated seconds per stage and images seen."""

    enhance: float = 0.0
    detect: float = 0.0
    images: int = 0
    extra: dict[str, float] = field(default_factory=dict)

    def ms_per_image(self) -> dict[str, float]:
        n = max(self.images, 1)
        return {"enhance": 1e3 * self.enhance / n, "detect": 1e3 * self.detect / n,
                **{k: 1e3 * v / n for k, v in self.extra.items()}}


class EnhancedDetector:
    """Enhancer → Ultralytics YOLO, batched, on one device.

    By default the enhancer runs on the detector's letterboxed input tensor (inside the predictor's
    ``preprocess``); ``enhance_before_letterbox=True`` enhances at native resolution first.

    Args:
        detector: YOLO weights path / model yaml, or a loaded ``ultralytics.YOLO``.
        enhancer: registry name or module.
        device: torch device for both models.
        imgsz: detector input size.
        conf, iou, max_det: NMS settings.
        half: fp16 detector (default: on CUDA).
        threads: CPU threads to keep (default: what the process uses now; Ultralytics resets them on set-up
            and on every validation, and this wrapper puts them back).
    """

    def __init__(self, detector: Any, enhancer: nn.Module | str = "none", *, device: torch.device | str = "cpu",
                 imgsz: int = 640, conf: float = 0.001, iou: float = 0.7, max_det: int = 300,
                 half: bool | None = None, enhance_before_letterbox: bool = False,
                 threads: int | None = None) -> None:
        self.threads = int(threads or torch.get_num_threads())  # before Ultralytics' set-up changes them
        self.device = torch.device(device)
        self.yolo = build_detector(detector) if isinstance(detector, str | Path) else detector
        self.names: dict[int, str] = dict(self.yolo.names)
        half = self.device.type == "cuda" if half is None else half
        overrides = {"conf": conf, "iou": iou, "max_det": max_det, "imgsz": imgsz, "device": str(self.device),
                     "verbose": False, "save": False, "quantize": 16 if half else None, "batch": 1}
        self.enhance_before_letterbox = enhance_before_letterbox
        self.enhancer = self._as_module(enhancer)
        self.predictor = EnhancedDetectionPredictor(overrides=overrides, enhancer=self._in_predictor())
        self.predictor.setup_model(model=self.yolo.model, verbose=False)
        torch.set_num_threads(self.threads)
        # Ultralytics' device selection drops torch to (cores - 1) threads on every val() call: restore ours, so
        # timings and float reductions do not depend on whether a validation ran before (exact resume)
        self.yolo.add_callback("on_val_start", lambda _validator: torch.set_num_threads(self.threads))
        self.times = StageTimes()
        self([np.full((imgsz, imgsz, 3), 114, np.uint8)])  # warm-up, kept out of the timings
        self.times = StageTimes()

    def _as_module(self, enhancer: nn.Module | str) -> nn.Module:
        module = create_enhancer(enhancer) if isinstance(enhancer, str) else enhancer
        return module.eval().to(self.device)

    def _in_predictor(self) -> nn.Module:
        return create_enhancer("none") if self.enhance_before_letterbox else self.enhancer

    def set_enhancer(self, enhancer: nn.Module | str) -> None:
        """Swap the enhancer (the detector stays loaded) and reset the timings."""
        self.enhancer = self._as_module(enhancer)
        self.predictor.enhancer = self._in_predictor()
        self.times = StageTimes()

    def __call__(self, images_bgr: list[np.ndarray]) -> list[Detections]:
        """Detect on a batch of uint8 BGR images (any sizes); boxes are in original pixels."""
        if not images_bgr:
            return []
        if self.enhance_before_letterbox:
            t0 = time.perf_counter()
            images_bgr = [self._enhance_native(im) for im in images_bgr]
            self.times.enhance += time.perf_counter() - t0
        self.predictor.enhance_seconds = 0.0
        self.predictor.args.batch = len(images_bgr)
        t0 = time.perf_counter()
        results = self.predictor(source=images_bgr if len(images_bgr) > 1 else images_bgr[0])
        total = time.perf_counter() - t0
        torch.set_num_threads(self.threads)  # Ultralytics may reset it
        self.times.enhance += self.predictor.enhance_seconds
        self.times.detect += total - self.predictor.enhance_seconds
        self.times.images += len(images_bgr)
        out = []
        for r in results:
            boxes = r.boxes
            out.append(Detections(boxes.xyxy.cpu().numpy().astype(np.float32),
                                  boxes.conf.cpu().numpy().astype(np.float32),
                                  boxes.cls.cpu().numpy().astype(np.int64)))
        return out

    def _enhance_native(self, bgr: np.ndarray) -> np.ndarray:
        rgb = torch.from_numpy(np.ascontiguousarray(bgr[..., ::-1])).permute(2, 0, 1).to(self.device)
        with torch.inference_mode():
            out = enhance_tensor(self.enhancer, rgb)
        return np.ascontiguousarray(out.permute(1, 2, 0).cpu().numpy()[..., ::-1])

    def enhance_for_display(self, bgr: np.ndarray) -> np.ndarray:
        """The enhanced image (uint8 BGR, native size) for galleries."""
        return self._enhance_native(bgr)
