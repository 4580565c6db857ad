"""Pieces shared by training loops: distributed set-up, run metadata, logs."""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch
import torch.distributed as dist

from lowlight_det.config import load_config, resume_config
from lowlight_det.detection import run_ultralytics_single_process
from lowlight_det.io import write_text

T = TypeVar("T")


@dataclass(frozen=True)
class DistInfo:
    """Rank and world size (1 process when not launched by torchrun)."""

    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device: torch.device) -> DistInfo:
    """Join the process group when launched by ``torchrun`` (gloo on CPU, nccl on CUDA)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    if not dist.is_initialized():
        rank = int(os.environ["RANK"])
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", rank=rank, world_size=world)
        run_ultralytics_single_process()
    return DistInfo(dist.get_rank(), dist.get_world_size())


def broadcast_floats(values: list[float], dist_info: DistInfo, device: torch.device) -> list[float]:
    """Rank 0's ``values`` on every rank (one decision, e.g. early stopping, for all); unchanged without DDP."""
    if dist_info.world_size <= 1:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.broadcast(t, src=0)
    return t.tolist()


JOBS = {"zero-reference": "python -m lowlight_det.train", "finetune": "python -m lowlight_det.finetune"}


def checkpoint_job(state: dict[str, Any]) -> str:
    """Which training job wrote a checkpoint: ``"zero-reference"`` or ``"finetune"`` (older files: inferred)."""
    if state.get("job") in JOBS:
        return str(state["job"])
    config = (state.get("meta") or {}).get("config") or {}
    return "finetune" if "detector" in config else "zero-reference"


def read_training_checkpoint(path: str | Path, *, kind: str) -> dict[str, Any]:
    """A ``last.pt`` to resume a ``kind`` job from (see :data:`JOBS`), checked before anything runs.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a resumable checkpoint of this job (a ``best.pt`` or a weights file, or the other job's).
    """
    from lowlight_det.enhancers.weights import read_checkpoint

    state = read_checkpoint(path)
    if "optimizer" not in state or "epoch" not in state or not (state.get("meta") or {}).get("config"):
        raise ValueError(f"{path}: holds enhancer weights only (a best.pt or a shipped file), not a training state; "
                         f"resume from the run's last.pt, or start a new run with --init-weights {path}")
    job = checkpoint_job(state)
    if job != kind:
        raise ValueError(f"{path}: is a {job} training checkpoint ({JOBS[job]}), it cannot resume a {kind} run; "
                         f"use it as --init-weights to start one")
    return state


RESUME_HELP = ("continue exactly from this last.pt, with its own settings: only --epochs, --patience, --out, --device, "
               "--threads and --workers may change")


def load_run_config(cls: type[T], config: str | Path | None, overrides: dict[str, Any], resume: str | Path | None,
                    *, kind: str) -> T:
    """The settings of a training run: defaults < YAML < flags; or, when resuming, the checkpoint's own settings
    with only the changes a resume allows (:func:`lowlight_det.config.resume_config`)."""
    if resume:
        saved = read_training_checkpoint(resume, kind=kind)["meta"]["config"]
        return resume_config(cls, saved, config, overrides, source=str(resume))
    return load_config(cls, config, overrides)


def write_csv_log(path: str | Path, rows: list[dict[str, Any]]) -> None:
    """Rewrite a CSV log atomically from all rows so far."""
    if not rows:
        return
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, buf.getvalue())
