"""Pieces shared by training loops: checkpoints to resume from, run settings, logs."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, TypeVar

from lowlight_det.config import load_config, resume_config
from lowlight_det.io import write_text

T = TypeVar("T")


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
