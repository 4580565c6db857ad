"""Zero-reference training of Zero-DCE / Zero-DCE++ (the paper's recipe), resumable and DDP-ready."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from lowlight_det.config import TrainConfig, to_dict
from lowlight_det.data.catalog import resolve_dataset
from lowlight_det.data.unpaired import ImageFolder
from lowlight_det.devices import resolve_device
from lowlight_det.distributed import init_distributed
from lowlight_det.enhancers import create_enhancer
from lowlight_det.io import write_text
from lowlight_det.losses import ZeroReferenceLoss
from lowlight_det.train.loop import EpochLoop

logger = logging.getLogger(__name__)

TERMS = ("total", "spatial", "exposure", "color", "smoothness")


class TrainingDivergedError(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


@dataclass
class TrainResult:
    """What :func:`train` returns."""

    model: nn.Module
    history: list[dict[str, Any]]
    checkpoint: Path | None


def build_model(cfg: TrainConfig) -> nn.Module:
    """The enhancer to train: random init (paper) or ``cfg.init_weights``."""
    kwargs: dict[str, Any] = {"weights": cfg.init_weights}
    if cfg.enhancer == "zerodce++":
        kwargs["scale_factor"] = cfg.scale_factor
    model = create_enhancer(cfg.enhancer, **kwargs)
    if not hasattr(model, "forward_curves"):
        raise ValueError(f"enhancer {cfg.enhancer!r} has no curves to train with zero-reference losses")
    return model


def train(cfg: TrainConfig, *, resume: str | Path | None = None, progress: bool = True) -> TrainResult:
    """Train ``cfg.enhancer`` on ``cfg.data`` with the zero-reference losses.

    Writes to ``cfg.out``: ``config.yaml``, ``last.pt`` (every epoch, atomically; loadable as
    enhancer weights), ``log.csv``, ``history.json``, ``epoch_NNN.pt`` with ``cfg.keep_epochs`` and
    ``holdout.txt`` (the files left out, relative to the data folder) with ``cfg.holdout``. Seed the
    process before calling.

    Args:
        cfg: the resolved configuration.
        resume: a ``last.pt`` to continue from exactly (model, optimizer, epoch, history).
        progress: show tqdm bars.

    Raises:
        TrainingDivergedError: NaN/inf loss; the previous epoch's checkpoint is left untouched.
    """
    dist_info = init_distributed(resolve_device(cfg.device))
    device = dist_info.device  # cuda:LOCAL_RANK on each rank of a multi-GPU run
    entry = resolve_dataset(cfg.data, data_root=cfg.data_root)
    dataset = ImageFolder(entry.root, image_size=cfg.imgsz)
    held_out = dataset.split(cfg.holdout, cfg.seed)
    model = build_model(cfg).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    loop = EpochLoop(cfg, job="zero-reference", arch=cfg.enhancer, model=model, optimizer=optimizer, device=device,
                     dist_info=dist_info, meta={"dataset": {"name": entry.name, "root": str(entry.root),
                                                            "images": len(dataset), "held_out": len(held_out)}})
    if held_out and dist_info.rank == 0:
        write_text(Path(cfg.out) / "holdout.txt", "".join(f"{f.relative_to(entry.root)}\n" for f in held_out))
    if resume:
        loop.resume(resume)
    loss_fn = ZeroReferenceLoss(**to_dict(cfg.loss))
    loader = loop.loader(dataset, batch_size=cfg.batch_size, workers=cfg.workers, seed=cfg.seed)
    net = loop.wrap()

    for epoch in loop.epochs(cfg.epochs):
        net.train()
        sums = dict.fromkeys(TERMS, 0.0)
        steps = 0
        t0 = time.perf_counter()
        bar = loop.progress(loader, f"train {cfg.enhancer} {epoch + 1}/{cfg.epochs}", show=progress)
        for img in bar:
            img = img.to(device, non_blocking=True)
            out_curves = net(img)
            terms = loss_fn(out_curves.ungated, img, out_curves.curves)
            if not torch.isfinite(terms.total):
                values = ", ".join(f"{k}={v.item():.4g}" for k, v in zip(TERMS, terms, strict=True))
                raise TrainingDivergedError(
                    f"non-finite loss at epoch {epoch + 1}, step {steps + 1} ({values}); training stopped. "
                    f"Last good checkpoint: {loop.checkpoint or 'none (first epoch)'}")
            optimizer.zero_grad(set_to_none=True)
            terms.total.backward()
            norm = nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            if not torch.isfinite(norm):  # a finite loss can still have NaN gradients: never step on them
                raise TrainingDivergedError(
                    f"non-finite gradients at epoch {epoch + 1}, step {steps + 1} (loss {terms.total.item():.4g}); "
                    f"training stopped. Last good checkpoint: {loop.checkpoint or 'none (first epoch)'}")
            optimizer.step()
            for k, v in zip(TERMS, terms, strict=True):
                sums[k] += v.item()
            steps += 1
            bar.set_postfix(loss=f"{terms.total.item():.4f}")
        means = loop.epoch_means(sums, steps)
        row = {"epoch": epoch + 1, **{k: means[k] for k in TERMS},
               "lr": optimizer.param_groups[0]["lr"], "steps": steps, "time_s": time.perf_counter() - t0}
        loop.log("epoch %d/%d: %s", epoch + 1, cfg.epochs, " ".join(f"{k}={row[k]:.5f}" for k in TERMS))
        loop.end_epoch(epoch, row, meta={"loss": {k: row[k] for k in TERMS}})
    return TrainResult(model, loop.history, loop.checkpoint)
