"""Batch 8 against the same 8 distinct images one call each, and against batch 1 on one image repeated (CPU).

    python benchmarks/batch_vs_single.py --enhancers zerodce++ zerodce++-det --sizes 640x640 1280x720 --threads 2

``bench_enhancers.py`` times batch 1 on one image called again and again, which stays in the CPU's caches between
calls, and batch 8 on a batch that does not; the fair comparison for a stream of frames is batch 8 against the
same eight distinct images one call each. Mean ms per image over ``--repeats`` calls
after warm-up, each measured twice; run on an otherwise idle machine. Writes ``--out`` (JSON) when given.

Each size also gets a ``copy`` row: ``x.clone()``, nothing but writing an output of the input's size. It is the
floor every enhancer sits on; where a batch is slower per image than single frames even for it, the cause is
the memory (one batch-sized output against a frame-sized one that single calls keep reusing), not the enhancer.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import torch

from lowlight_det import create_enhancer
from lowlight_det.cli import setup_cpu


def _ms(fn: Callable[[], object], repeats: int) -> float:
    for _ in range(3):
        fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats * 1e3


class _Copy(torch.nn.Module):
    """The floor: an output of the input's size, written once."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.clone()


def _measure(model: torch.nn.Module, batch: torch.Tensor, repeats: int) -> dict[str, float]:
    """ms per image: the batch in one call, its images one call each, and one image repeated."""
    n, one = batch.shape[0], batch[:1].clone()
    frames = [batch[i:i + 1].clone() for i in range(n)]  # distinct contiguous frames, as a camera delivers them

    def singles() -> None:
        for frame in frames:
            model(frame)

    return {"batch_ms_per_image": round(_ms(lambda: model(batch), repeats) / n, 3),
            "distinct_singles_ms_per_image": round(_ms(singles, repeats) / n, 3),
            "same_single_ms": round(_ms(lambda: model(one), repeats), 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--enhancers", nargs="+", default=["zerodce++", "zerodce++-det"])
    ap.add_argument("--sizes", nargs="+", default=["640x640", "1280x720"], help="WxH")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    setup_cpu(args.threads)
    rows = []
    with torch.inference_mode():
        for size in args.sizes:
            width, height = (int(v) for v in size.split("x"))
            batch = torch.rand(args.batch, 3, height, width, generator=torch.Generator().manual_seed(0)) * 0.3
            for name in ["copy", *args.enhancers]:
                model = _Copy() if name == "copy" else create_enhancer(name).eval()
                for run in (1, 2):
                    row = {"enhancer": name, "size": size, "run": run, "threads": args.threads,
                           **_measure(model, batch, args.repeats)}
                    rows.append(row)
                    print(row, flush=True)
    if args.out:
        args.out.write_text(json.dumps({"batch": args.batch, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
