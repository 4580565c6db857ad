"""The plumbing every training run shares: prepare → epochs → save, around the job's own step and validation.

Zero-reference training and detection-aware fine-tuning (and any later mode) keep only what is theirs, the
loss of a step and what to validate; :class:`EpochLoop` does the rest the same way for all of them: a seeded
shuffle that is the same for 1 or N processes (so ``--resume`` is exact), DDP, resuming model, optimizer and
AMP scaler, ``config.yaml``, and after every epoch an atomic ``last.pt``, ``log.csv`` and ``history.json``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import torch
import torch.distributed as dist
import yaml
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler
from tqdm import tqdm

from lowlight_det.config import to_dict
from lowlight_det.distributed import DistInfo
from lowlight_det.enhancers.weights import WEIGHTS_KEYS, atomic_save, make_checkpoint
from lowlight_det.io import write_json, write_text
from lowlight_det.runinfo import git_commit, versions
from lowlight_det.train.common import read_training_checkpoint, write_csv_log

logger = logging.getLogger(__name__)


class WithCurves(nn.Module):
    """``forward`` returns ``model.forward_curves(img)``: DDP syncs gradients through ``forward``, so the call that
    also returns the curve maps is the one to wrap."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, img: torch.Tensor) -> Any:
        return cast(Any, self.model).forward_curves(img)  # a curve enhancer


def arch_kwargs_of(model: nn.Module) -> dict[str, Any]:
    """The architecture options a checkpoint of ``model`` needs (width, iterations, strength gate, denoising stage)."""
    kwargs: dict[str, Any] = {"width": model.width, "n_iter": model.n_iter}
    adaptive = getattr(model, "adaptive", False)
    if adaptive:
        kwargs["adaptive"] = adaptive  # True (per image) or "spatial"
    denoise = getattr(model, "denoise", False)
    if denoise:
        kwargs["denoise"] = denoise  # True (one blur) or 2 (two scales)
    return kwargs


class EpochLoop:
    """Prepare → epochs → save for one training run of ``job`` (``"zero-reference"``, ``"finetune"``).

    Args:
        cfg: the run's config dataclass (``out`` is where everything is written; the whole config goes into the
            metadata and ``config.yaml``).
        job: what kind of run this is (checked when resuming).
        arch: registry name of the trained enhancer (checkpoints load as its weights).
        model, optimizer, scaler: what a checkpoint saves and a resume restores (scaler: AMP, optional).
        device, dist_info: where it runs, and which process this is.
        meta: run metadata beyond config, versions and commit (dataset, detector...).
    """

    def __init__(self, cfg: Any, *, job: str, arch: str, model: nn.Module, optimizer: torch.optim.Optimizer,
                 device: torch.device, dist_info: DistInfo, meta: dict[str, Any],
                 scaler: torch.amp.GradScaler | None = None) -> None:
        self.out, self.job, self.arch = Path(cfg.out), job, arch
        self.keep_epochs = bool(getattr(cfg, "keep_epochs", False))
        self.model, self.optimizer, self.scaler = model, optimizer, scaler
        self.device, self.dist = device, dist_info
        self.meta = {"config": to_dict(cfg), "versions": versions(), "git_commit": git_commit(),
                     "world_size": dist_info.world_size, **meta}
        self.history: list[dict[str, Any]] = []
        self.start_epoch = 0
        self.checkpoint: Path | None = None
        self.sampler: DistributedSampler[Any] | None = None
        if dist_info.is_main:
            write_text(self.out / "config.yaml", yaml.safe_dump(to_dict(cfg), sort_keys=False))

    def loader(self, dataset: Dataset[Any], *, batch_size: int, workers: int, seed: int,
               collate_fn: Callable[..., Any] | None = None) -> DataLoader[Any]:
        """Batches of this process's share, shuffled by (seed, epoch): the same order however often it resumes."""
        self.sampler = DistributedSampler(dataset, num_replicas=self.dist.world_size, rank=self.dist.rank,
                                          shuffle=True, seed=seed)
        return DataLoader(dataset, batch_size=batch_size, sampler=self.sampler, num_workers=workers,
                          collate_fn=collate_fn, pin_memory=self.device.type == "cuda", persistent_workers=workers > 0)

    def wrap(self) -> nn.Module:
        """The model as the step calls it: ``forward_curves`` under DDP when there are several processes."""
        net: nn.Module = WithCurves(self.model)
        return DistributedDataParallel(net) if self.dist.world_size > 1 else net

    def resume(self, path: str | Path) -> dict[str, Any]:
        """Restore model, optimizer, AMP scaler, history and the next epoch from a ``last.pt`` of this job.

        Raises:
            ValueError: another job's or another architecture's checkpoint, or weights that do not fit.
        """
        state = read_training_checkpoint(path, kind=self.job)
        if state.get("arch") != self.arch:
            raise ValueError(f"{path}: holds a {state.get('arch')!r} run, not {self.arch!r}")
        try:
            self.model.load_state_dict(state["state_dict"])
            self.optimizer.load_state_dict(state["optimizer"])
        except (RuntimeError, ValueError) as exc:
            raise ValueError(f"{path}: does not fit this run's {self.arch} "
                             f"({arch_kwargs_of(self.model)}): {' '.join(str(exc).split())[:300]}") from None
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.start_epoch, self.history = int(state["epoch"]) + 1, list(state.get("history", []))
        self.checkpoint = Path(path)
        logger.info("resumed from %s at epoch %d", path, self.start_epoch + 1)
        return state

    def epochs(self, total: int) -> Iterator[int]:
        """The epochs left to run (0-based), each with its shuffle set."""
        for epoch in range(self.start_epoch, total):
            if self.sampler is not None:
                self.sampler.set_epoch(epoch)
            yield epoch

    def progress(self, loader: DataLoader[Any], desc: str, *, show: bool) -> Any:
        """A progress bar over ``loader`` (the main process only)."""
        return tqdm(loader, desc=desc, unit="batch", disable=not (show and self.dist.is_main), leave=False)

    def epoch_means(self, sums: dict[str, float], steps: int) -> dict[str, float]:
        """Per-step means of ``sums`` over every process's steps (the same numbers on each rank)."""
        keys = sorted(sums)
        if self.dist.world_size > 1:
            t = torch.tensor([sums[k] for k in keys] + [float(steps)], dtype=torch.float64, device=self.device)
            dist.all_reduce(t)
            values, steps = t[:-1].tolist(), int(t[-1].item())
            sums = dict(zip(keys, values, strict=True))
        return {k: sums[k] / max(steps, 1) for k in keys}

    def log(self, message: str, *args: Any) -> None:
        """Log once per run, from the main process (not once per rank)."""
        if self.dist.is_main:
            logger.info(message, *args)

    def end_epoch(self, epoch: int, row: dict[str, Any], *, meta: dict[str, Any], **state: Any) -> dict[str, Any]:
        """Log ``row``; on the main process write ``last.pt`` (model, optimizer, scaler, epoch, history, ``state``),
        ``log.csv`` and ``history.json``, atomically. Returns the checkpoint dict (e.g. to keep a ``best.pt``)."""
        self.history.append(row)
        extra = {"scaler": self.scaler.state_dict()} if self.scaler is not None else {}
        ckpt = make_checkpoint(self.model, arch=self.arch, arch_kwargs=arch_kwargs_of(self.model),
                               meta={**self.meta, "epoch": epoch + 1, **meta}, optimizer=self.optimizer.state_dict(),
                               epoch=epoch, history=self.history, job=self.job, **extra, **state)
        if self.dist.is_main:
            self.checkpoint = atomic_save(ckpt, self.out / "last.pt")
            if self.keep_epochs:  # the weights alone, loadable as enhancer weights, for choosing an epoch later
                atomic_save({k: ckpt[k] for k in WEIGHTS_KEYS}, self.out / f"epoch_{epoch + 1:03d}.pt")
            write_csv_log(self.out / "log.csv", self.history)
            write_json(self.out / "history.json", self.history)
        return ckpt
