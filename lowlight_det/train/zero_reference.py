"""Zero-reference training of Zero-DCE / Zero-DCE++ (the paper's recipe), resumable and DDP-ready."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import torch
import yaml
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler
from tqdm import tqdm

from lowlight_det.config import TrainConfig, to_dict
from lowlight_det.data.catalog import resolve_dataset
from lowlight_det.data.unpaired import ImageFolder
from lowlight_det.devices import resolve_device
from lowlight_det.enhancers import create_enhancer
from lowlight_det.enhancers.weights import atomic_save, make_checkpoint, read_checkpoint
from lowlight_det.io import write_json, write_text
from lowlight_det.losses import ZeroReferenceLoss
from lowlight_det.runinfo import git_commit, versions
from lowlight_det.train.common import init_distributed, write_csv_log

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


class WithCurves(nn.Module):
    """``forward`` returns ``model.forward_curves(img)`` (image, curves, half-way image)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, img: torch.Tensor) -> Any:
        return cast(Any, self.model).forward_curves(img)  # a curve enhancer


def build_model(cfg: TrainConfig) -> nn.Module:
    """The enhancer to train: random init (paper) or ``cfg.init_weights``."""
    kwargs: dict[str, Any] = {"weights": cfg.init_weights}
    if cfg.enhancer == "zerodce++":
        kwargs["scale_factor"] = cfg.scale_factor
    model = create_enhancer(cfg.enhancer, **kwargs)
    if not hasattr(model, "forward_curves"):
        raise ValueError(f"enhancer {cfg.enhancer!r} has no curves to train with zero-reference losses")
    return model


def arch_kwargs_of(model: nn.Module) -> dict[str, Any]:
    """The architecture options a checkpoint of ``model`` needs (width, iterations, strength gate)."""
    kwargs: dict[str, Any] = {"width": model.width, "n_iter": model.n_iter}
    if getattr(model, "adaptive", False):
        kwargs["adaptive"] = True
    return kwargs


def train(cfg: TrainConfig, *, resume: str | Path | None = None, progress: bool = True) -> TrainResult:
    """Train ``cfg.enhancer`` on ``cfg.data`` with the zero-reference losses.

    Writes to ``cfg.out``: ``config.yaml``, ``last.pt`` (every epoch, atomically; loadable as
    enhancer weights), ``log.csv`` and ``history.json``. Seed the process before calling.

    Args:
        cfg: the resolved configuration.
        resume: a ``last.pt`` to continue from exactly (model, optimizer, epoch, history).
        progress: show tqdm bars.

    Raises:
        TrainingDivergedError: NaN/inf loss; the previous epoch's checkpoint is left untouched.
    """
    device = resolve_device(cfg.device)
    dist_info = init_distributed(device)
    out = Path(cfg.out)
    entry = resolve_dataset(cfg.data, data_root=cfg.data_root)
    dataset = ImageFolder(entry.root, image_size=cfg.imgsz)

    model = build_model(cfg).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    history: list[dict[str, Any]] = []
    start_epoch = 0
    if resume:
        state = read_checkpoint(resume)
        if state.get("arch") != cfg.enhancer or "optimizer" not in state:
            raise ValueError(f"{resume}: not a {cfg.enhancer!r} training checkpoint (no optimizer state)")
        model.load_state_dict(state["state_dict"])
        optimizer.load_state_dict(state["optimizer"])
        start_epoch = int(state["epoch"]) + 1
        history = list(state.get("history", []))
        logger.info("resumed from %s at epoch %d", resume, start_epoch)

    loss_fn = ZeroReferenceLoss(**to_dict(cfg.loss))
    # one sampler for 1 or N processes: deterministic shuffles from (seed, epoch), so resume is exact
    sampler: DistributedSampler[Any] = DistributedSampler(dataset, num_replicas=dist_info.world_size,
                                                          rank=dist_info.rank, shuffle=True, seed=cfg.seed)
    loader = DataLoader(dataset, batch_size=cfg.batch_size, sampler=sampler, num_workers=cfg.workers,
                        pin_memory=device.type == "cuda", persistent_workers=cfg.workers > 0)
    # DDP syncs gradients through forward(), so wrap the call that also returns the curves
    net: nn.Module = WithCurves(model)
    if dist_info.world_size > 1:
        net = DistributedDataParallel(net)

    meta_base = {"config": to_dict(cfg), "versions": versions(), "git_commit": git_commit(),
                 "dataset": {"name": entry.name, "root": str(entry.root), "images": len(dataset)},
                 "world_size": dist_info.world_size}
    if dist_info.is_main:
        write_text(out / "config.yaml", yaml.safe_dump(to_dict(cfg), sort_keys=False))
    checkpoint: Path | None = Path(resume) if resume else None

    for epoch in range(start_epoch, cfg.epochs):
        sampler.set_epoch(epoch)
        net.train()
        sums = dict.fromkeys(TERMS, 0.0)
        steps = 0
        t0 = time.perf_counter()
        bar = tqdm(loader, desc=f"train {cfg.enhancer} {epoch + 1}/{cfg.epochs}", unit="batch",
                   disable=not (progress and dist_info.is_main), leave=False)
        for img in bar:
            img = img.to(device, non_blocking=True)
            out_curves = net(img)
            terms = loss_fn(out_curves.ungated, img, out_curves.curves)
            if not torch.isfinite(terms.total):
                values = ", ".join(f"{k}={v.item():.4g}" for k, v in zip(TERMS, terms, strict=True))
                raise TrainingDivergedError(
                    f"non-finite loss at epoch {epoch + 1}, step {steps + 1} ({values}); training stopped. "
                    f"Last good checkpoint: {checkpoint or 'none (first epoch)'}")
            optimizer.zero_grad(set_to_none=True)
            terms.total.backward()
            norm = nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            if not torch.isfinite(norm):  # a finite loss can still have NaN gradients: never step on them
                raise TrainingDivergedError(
                    f"non-finite gradients at epoch {epoch + 1}, step {steps + 1} (loss {terms.total.item():.4g}); "
                    f"training stopped. Last good checkpoint: {checkpoint or 'none (first epoch)'}")
            optimizer.step()
            for k, v in zip(TERMS, terms, strict=True):
                sums[k] += v.item()
            steps += 1
            bar.set_postfix(loss=f"{terms.total.item():.4f}")
        row = {"epoch": epoch + 1, **{k: sums[k] / max(steps, 1) for k in TERMS},
               "lr": optimizer.param_groups[0]["lr"], "steps": steps, "time_s": time.perf_counter() - t0}
        history.append(row)
        logger.info("epoch %d/%d: %s", epoch + 1, cfg.epochs,
                    " ".join(f"{k}={row[k]:.5f}" for k in TERMS))
        if dist_info.is_main:
            meta = {**meta_base, "epoch": epoch + 1, "loss": {k: row[k] for k in TERMS}}
            ckpt = make_checkpoint(model, arch=cfg.enhancer, arch_kwargs=arch_kwargs_of(model), meta=meta,
                                   optimizer=optimizer.state_dict(), epoch=epoch, history=history, job="zero-reference")
            checkpoint = atomic_save(ckpt, out / "last.pt")
            write_csv_log(out / "log.csv", history)
            write_json(out / "history.json", history)
    return TrainResult(model, history, checkpoint)
