"""Shared pieces of the command-line entry points: argument types, logging, seeding, threads, error handling.

Only entry points import this module; library code takes devices and settings as arguments."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import math
import os
import random
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np
import torch

from lowlight_det.devices import resolve_device

logger = logging.getLogger(__name__)
T = TypeVar("T")
C = TypeVar("C")
__all__ = ["resolve_device"]  # re-exported for entry points


def _number(kind: type, *, minimum: float, inclusive: bool, what: str) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not math.isfinite(value) or value < minimum or (value == minimum and not inclusive):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    parse.__name__ = what  # argparse names the type in its messages
    return parse


positive_int = _number(int, minimum=1, inclusive=True, what="an integer >= 1")
"""argparse type: an integer >= 1 (batch sizes, epochs, image sizes, ``--limit``)."""
non_negative_int = _number(int, minimum=0, inclusive=True, what="an integer >= 0")
"""argparse type: an integer >= 0 (workers, counts where 0 switches a feature off)."""
positive_float = _number(float, minimum=0.0, inclusive=False, what="a finite number > 0")
"""argparse type: a finite float > 0 (learning rates, scale factors)."""
non_negative_float = _number(float, minimum=0.0, inclusive=True, what="a finite number >= 0")
"""argparse type: a finite float >= 0 (loss weights)."""


def unit_interval(text: str) -> float:
    """argparse type: a number in [0, 1] (score and IoU thresholds)."""
    value = non_negative_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}")
    return float(value)


def _bounded(kind: type, meta: Mapping[str, Any]) -> Callable[[str], Any]:
    low, high, low_open = meta.get("low"), meta.get("high"), meta.get("low_open", False)
    if kind is int and low is not None and high is None:
        return positive_int if low >= 1 else non_negative_int
    what = {int: "an integer", float: "a finite number"}[kind]
    if low is not None or high is not None:
        what += (f" in {'(' if low_open else '['}{'-inf' if low is None else f'{low:g}'}, "
                 f"{'inf' if high is None else f'{high:g}'}]")

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        ok = math.isfinite(value) and (low is None or value > low or (value == low and not low_open)) and (
            high is None or value <= high)
        if not ok:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    parse.__name__ = what
    return parse


def add_config_arguments(parser: argparse.ArgumentParser, cls: type, *, skip: Sequence[str] = (),
                         choices: Mapping[str, Sequence[str]] | None = None) -> None:
    """One flag per field of config dataclass ``cls`` (``--batch-size`` for ``batch_size``), with the help text,
    type and range of its :func:`lowlight_det.config.setting`; every default is None ("not given"), so the
    config's own default, then the YAML file, then the flag decide (see :func:`config_overrides`)."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        meta = f.metadata
        if f.name in skip or not meta.get("flag", True):
            continue
        tp = hints[f.name]
        options = [a for a in typing.get_args(tp) if a is not type(None)] if typing.get_origin(tp) in (
            typing.Union, types.UnionType) else [tp]
        base = options[0]
        default = f.default if f.default is not dataclasses.MISSING else None
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
        kwargs: dict[str, Any] = {"dest": f.name, "default": None,
                                  "help": f"{meta.get('help', '')} (default: {shown})".replace("(default: None)", "")}
        if base is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        elif typing.get_origin(base) is tuple:
            kwargs["metavar"] = "A,B,..."
        elif base in (int, float):
            kwargs["type"] = _bounded(base, meta)
        if choices and f.name in choices:
            kwargs["choices"] = list(choices[f.name])
        parser.add_argument("--" + f.name.replace("_", "-"), *meta.get("aliases", ()), **kwargs)


def config_parser(prog: str, description: str | None, cls: type, *, config_help: str, skip: Sequence[str] = (),
                  choices: Mapping[str, Sequence[str]] | None = None, resume_help: str | None = None
                  ) -> argparse.ArgumentParser:
    """A parser with ``--config`` (a YAML file of ``cls``'s fields), one flag per field of ``cls``, ``--resume``
    (with ``resume_help``) and ``-v`` / ``-q``; an entry point adds what else it needs."""
    parser = argparse.ArgumentParser(prog=prog, description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", help=config_help)
    add_config_arguments(parser, cls, skip=skip, choices=choices)
    if resume_help:
        parser.add_argument("--resume", help=resume_help)
    add_common_args(parser, devices=False)
    return parser


def parse_args(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse ``argv`` and set up logging from ``-v`` / ``-q``."""
    args = parser.parse_args(argv)
    setup_logging(args.verbose, args.quiet)
    return args


def config_overrides(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    """The flags of :func:`add_config_arguments` that were given, by field name."""
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(cls)
            if getattr(args, f.name, None) is not None}


def add_common_args(parser: argparse.ArgumentParser, *, devices: bool = True) -> None:
    """``--device``, ``--threads`` (unless a config dataclass already gives them: ``devices=False``), ``-v`` / ``-q``."""
    if devices:
        parser.add_argument("--device", default=None, help="auto (default), cpu, cuda, cuda:N")
        parser.add_argument("--threads", type=positive_int, default=None,
                            help="CPU threads for torch (default: all cores)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    group.add_argument("-q", "--quiet", action="store_true", help="warnings only, no progress bars")


def setup_logging(verbose: bool = False, quiet: bool = False) -> None:
    """Configure root logging for an entry point."""
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", force=True)


MMAP_THRESHOLD = 512 << 20
"""Allocations up to this size are served from (and returned to) the process heap (glibc ``M_MMAP_THRESHOLD``)."""


def tune_cpu_allocator() -> bool:
    """Let glibc keep large blocks for reuse instead of mapping fresh memory from the OS for each one.

    By default glibc maps every allocation above 32 MiB (a batch of 8 images at 640x640 in float32 is 39 MB) fresh
    and unmaps it when freed, so each new tensor of that size page-faults its way into memory: on 2 cores a batch
    of 8 cost several times a single image per image, for every enhancer and for the detector. Raising the mmap
    threshold to 512 MiB (and the trim threshold to 1 GiB) reuses the memory instead; the price is that up to about
    1 GiB of freed memory stays with the process. Entry points call this; ``LOWLIGHT_DET_MALLOC=0`` turns it off,
    and in your own program ``MALLOC_MMAP_THRESHOLD_=536870912`` (set before Python starts) does the same.
    Returns True when applied (glibc only; elsewhere a no-op).
    """
    if os.environ.get("LOWLIGHT_DET_MALLOC", "1").strip() in ("0", "false", "off", "no"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's mallopt parameters
        return bool(libc.mallopt(m_mmap_threshold, MMAP_THRESHOLD)) and bool(libc.mallopt(m_trim_threshold, 1 << 30))
    except (OSError, AttributeError):
        return False


def setup_cpu(threads: int | None) -> int:
    """What every entry point does before heavy work: torch's threads (:func:`set_threads`) and the allocator
    (:func:`tune_cpu_allocator`); returns the threads set."""
    tune_cpu_allocator()
    return set_threads(threads)


def set_threads(threads: int | None) -> int:
    """Set torch's CPU threads (Ultralytics resets them to 1 on import); returns the number set.

    By default all cores, shared among the processes ``torchrun`` started on this machine.
    """
    if not threads:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        threads = cores // max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    torch.set_num_threads(max(1, int(threads)))
    return torch.get_num_threads()


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (entry points only)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class _NeverRaised(Exception):
    """Placeholder for jobs that cannot diverge."""


def run_job(job: Callable[[], T], *, diverged: type[BaseException] = _NeverRaised,
            log: logging.Logger | None = None) -> tuple[int, T | None]:
    """Run an entry point's job under tqdm-aware logging and turn what users cause into messages.

    Returns (0, result); (1, None) on ``diverged`` (training blew up); (2, None) on bad input or an
    environment problem: ``ValueError`` (bad files, flags, configs; their messages name the file) and
    ``OSError`` (missing files, read-only or full output folders). Anything else is a bug and keeps its
    traceback.
    """
    from tqdm.contrib.logging import logging_redirect_tqdm

    log = log or logger
    with logging_redirect_tqdm():
        try:
            return 0, job()
        except diverged as exc:
            log.error("%s", exc)
            return 1, None
        except ValueError as exc:
            log.error("%s", exc)
            return 2, None
        except OSError as exc:
            log.error("%s", describe_os_error(exc))
            return 2, None


def run_training(args: argparse.Namespace, cls: type[C], overrides: dict[str, Any], train: Callable[[C], T], *,
                 kind: str, log: logging.Logger) -> tuple[int, T | None]:
    """The body of a training entry point: its settings (flags, YAML, or the checkpoint's on ``--resume``), threads
    and seeds set, then ``train(cfg)`` under :func:`run_job` (exit 1 when training diverges)."""
    from lowlight_det.train.common import load_run_config
    from lowlight_det.train.zero_reference import TrainingDivergedError

    def job() -> T:
        cfg = load_run_config(cls, args.config, overrides, args.resume, kind=kind)
        setup_cpu(getattr(cfg, "threads", None))
        # Training drives some weights and Adam moments below float32's normal range; on x86 CPUs every product
        # with such a subnormal takes a slow path (a SICE epoch went from 2.7 to 17.6 minutes by epoch 8; one step
        # from those weights: 5.0 s, 0.6 s with the flush). Flushing them to zero keeps every epoch as fast.
        torch.set_flush_denormal(True)
        seed_everything(getattr(cfg, "seed", 0))
        return train(cfg)

    return run_job(job, diverged=TrainingDivergedError, log=log)


def is_main_process() -> bool:
    """False on the other ranks of a ``torchrun`` job: they stay quiet, rank 0 prints the result."""
    import torch.distributed as dist

    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def describe_os_error(exc: OSError) -> str:
    """One line for a file-system error, naming the file and what to do.

    Example:
        >>> import errno
        >>> describe_os_error(OSError(errno.ENOSPC, "No space left on device", "/out/x.json"))
        'cannot write /out/x.json: no space left (device full, quota or file-size limit); free some space or choose another --out'
    """
    import errno

    name = exc.filename or ""
    if exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        return (f"cannot write {name}: no space left (device full, quota or file-size limit); free some space or "
                "choose another --out")
    if exc.errno == errno.ENOTDIR:
        return f"cannot write {name}: a part of this path is a file, not a folder; choose another --out"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return (f"cannot write {name}: {exc.strerror or 'permission denied'} (read-only or not yours); "
                "choose another --out")
    if isinstance(exc, FileNotFoundError):
        return f"{name}: no such file or folder" if name and str(exc).startswith("[Errno") else str(exc)
    return str(exc)
