"""Pieces shared by training loops: distributed set-up, run metadata, logs."""

from __future__ import annotations

import csv
import io
import os
import platform
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

import lowlight_det
from lowlight_det.io import write_text


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
        # Ultralytics reads RANK/LOCAL_RANK at import and then assumes its own CUDA DDP trainer (its validator
        # asks for the current CUDA device): our processes run Ultralytics as single-process code.
        os.environ.pop("RANK", None)
        os.environ.pop("LOCAL_RANK", None)
    return DistInfo(dist.get_rank(), dist.get_world_size())


def git_commit() -> str | None:
    """The commit of the lowlight_det source tree, if it is a git checkout."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(lowlight_det.__file__).parent,
                             capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else None


def versions() -> dict[str, Any]:
    """Versions that matter for reproducing a result."""
    info: dict[str, Any] = {"lowlight_det": lowlight_det.__version__, "torch": str(torch.__version__),
                            "python": platform.python_version()}
    for package in ("torchvision", "ultralytics", "opencv-python-headless", "pycocotools"):
        try:
            info[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return info


def write_csv_log(path: str | Path, rows: list[dict[str, Any]]) -> None:
    """Rewrite a CSV log atomically from all rows so far."""
    if not rows:
        return
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, buf.getvalue())
