"""Processes launched by ``torchrun``: joining the group, one device per rank, sharding and gathering.

Used by the training loops (DDP) and by the evaluator (images sharded over the processes, predictions gathered
and scored once). Without ``torchrun`` everything here is a no-op for one process.
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

import torch
import torch.distributed as dist

from lowlight_det.detection import run_ultralytics_single_process

T = TypeVar("T")


@dataclass(frozen=True)
class DistInfo:
    """Rank, world size (1 process when not launched by torchrun) and this rank's device."""

    rank: int = 0
    world_size: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device: torch.device, *, ultralytics_ddp: bool = False) -> DistInfo:
    """Join the process group when launched by ``torchrun`` (gloo on CPU, nccl on CUDA).

    An unnumbered CUDA device becomes ``cuda:LOCAL_RANK`` on each rank (one GPU per process), and is made current.
    Call before Ultralytics is imported (see :func:`run_ultralytics_single_process`), unless ``ultralytics_ddp``:
    then Ultralytics' own trainer runs as one rank of this group (``--train detector/joint``) and keeps seeing
    ``RANK`` / ``LOCAL_RANK``.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo(device=device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        rank = int(os.environ["RANK"])
        # a long timeout, as Ultralytics has: the other processes wait while the first one validates or scores
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", rank=rank, world_size=world,
                                timeout=timedelta(hours=3))
        # Leave the group before the interpreter shuts down: a group still alive at exit lets its communication
        # threads be destroyed while running ("terminate called without an active exception", an abort seen
        # now and then on CPU after every result was written)
        atexit.register(_leave_group)
        if not ultralytics_ddp:
            run_ultralytics_single_process()
    return DistInfo(dist.get_rank(), dist.get_world_size(), device)


def _leave_group() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def broadcast_floats(values: list[float], dist_info: DistInfo, device: torch.device) -> list[float]:
    """Rank 0's ``values`` on every rank (one decision, e.g. early stopping, for all); unchanged without DDP."""
    if dist_info.world_size <= 1:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.broadcast(t, src=0)
    return t.tolist()


def shard(items: Sequence[T], dist_info: DistInfo) -> list[T]:
    """This rank's share of ``items``: every ``world_size``-th one from ``rank`` (all of them for one process)."""
    return list(items[dist_info.rank::dist_info.world_size])


def gather(obj: T, dist_info: DistInfo) -> list[T]:
    """Every rank's ``obj`` (picklable), in rank order, on every rank; ``[obj]`` for one process."""
    if dist_info.world_size <= 1:
        return [obj]
    out: list[Any] = [None] * dist_info.world_size
    dist.all_gather_object(out, obj)
    return out


def barrier(dist_info: DistInfo) -> None:
    """Wait for every rank (no-op for one process)."""
    if dist_info.world_size > 1:
        dist.barrier()
