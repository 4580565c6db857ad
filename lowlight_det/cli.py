"""Shared pieces of the command-line entry points: logging, devices, seeding, threads."""

from __future__ import annotations

import argparse
import logging
import os
import random
from collections.abc import Callable
from typing import TypeVar

import numpy as np
import torch

logger = logging.getLogger(__name__)
T = TypeVar("T")


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """``--device``, ``--threads``, ``-v`` / ``-q``."""
    parser.add_argument("--device", default=None, help="auto (default), cpu, cuda, cuda:N")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: all cores)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    group.add_argument("-q", "--quiet", action="store_true", help="warnings only, no progress bars")


def setup_logging(verbose: bool = False, quiet: bool = False) -> None:
    """Configure root logging for an entry point."""
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", force=True)


def resolve_device(device: str | None = "auto") -> torch.device:
    """``"auto"`` → cuda if available, else cpu; otherwise the named device (checked).

    Example:
        >>> resolve_device("cpu")
        device(type='cpu')
    """
    if device in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available; use --device cpu")
    return dev


def set_threads(threads: int | None) -> int:
    """Set torch's CPU threads (Ultralytics resets them to 1 on import); returns the number set."""
    if not threads:
        threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    torch.set_num_threads(max(1, int(threads)))
    return torch.get_num_threads()


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (entry points only)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def run_job(job: Callable[[], T], *, diverged: type[BaseException]) -> tuple[int, T | None]:
    """Run a long job under tqdm-aware logging: (0, result), (1, None) on ``diverged``,
    (2, None) on bad input (ValueError / FileNotFoundError); errors are logged, not raised."""
    from tqdm.contrib.logging import logging_redirect_tqdm

    with logging_redirect_tqdm():
        try:
            return 0, job()
        except diverged as exc:
            logger.error("%s", exc)
            return 1, None
        except (ValueError, FileNotFoundError) as exc:
            logger.error("%s", exc)
            return 2, None
