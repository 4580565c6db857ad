"""Evaluator speed-up from sharding the images over processes (``torchrun -m lowlight_det.eval``), and whether
the numbers match one process.

Runs the same evaluation once in one process (all threads) and once as N processes sharing the machine's
cores, on an otherwise idle machine, and writes wall times, images/s and the largest metric difference.

    python benchmarks/sharded_eval.py --processes 2 -- --data ../shared/data/exdark-mini --split test \\
        --weights ../shared/models/yolo11n-coco.pt --enhance zerodce++ --imgsz 640 --batch-size 8
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path


def run(eval_args: list[str], out: Path, processes: int, threads: int) -> tuple[float, dict]:
    launcher = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes)] if processes > 1 \
        else []
    cmd = [sys.executable, *launcher, "-m", "lowlight_det.eval", *eval_args, "--no-plots", "--threads", str(threads),
           "--out", str(out), "-q"]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env={**os.environ, "OMP_NUM_THREADS": str(threads)})
    return time.perf_counter() - t0, json.loads((out / "metrics.json").read_text())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--processes", type=int, default=2)
    p.add_argument("--cores", type=int, default=len(os.sched_getaffinity(0)))
    p.add_argument("--work", default="runs/sharded_eval")
    p.add_argument("--out", default="benchmarks/results/sharded_eval_cpu.json")
    p.add_argument("eval_args", nargs=argparse.REMAINDER, help="after --: the evaluator's arguments")
    args = p.parse_args()
    eval_args = [a for a in args.eval_args if a != "--"]
    single_s, single = run(eval_args, Path(args.work) / "one", 1, args.cores)
    sharded_s, sharded = run(eval_args, Path(args.work) / f"n{args.processes}", args.processes,
                             max(1, args.cores // args.processes))
    rows = {}
    for name, row in single["results"].items():
        other = sharded["results"][name]
        rows[name] = {
            "images": row["images"],
            "single_images_per_s": row["timing_ms"]["images_per_s"],
            "sharded_images_per_s": other["timing_ms"]["images_per_s"],
            "speedup": round(other["timing_ms"]["images_per_s"] / row["timing_ms"]["images_per_s"], 2),
            "max_abs_metric_diff": max(abs(other["metrics"][k] - row["metrics"][k]) for k in ("map50", "map50_95")),
            "map50": [row["metrics"]["map50"], other["metrics"]["map50"]]}
    result = {"machine": f"{platform.processor() or platform.machine()}, {args.cores} cores",
              "processes": args.processes, "threads_single": args.cores,
              "threads_per_process": max(1, args.cores // args.processes), "eval_args": eval_args,
              "wall_s": {"single": round(single_s, 1), "sharded": round(sharded_s, 1)},
              "speedup_wall": round(single_s / sharded_s, 2), "rows": rows}
    print(json.dumps(result, indent=2))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
