"""Average the weights of several runs of one recipe into one enhancer (a "model soup", Wortsman et al. 2022).

    python benchmarks/soup_weights.py runs/dark_teacher_exdark_cpu/best.pt runs/dark_teacher_exdark_cpu_s1/best.pt \\
        runs/dark_teacher_exdark_cpu_s2/best.pt --out runs/soup_teacher_exdark.pt

The runs must share an architecture (the same ``arch`` and ``arch_kwargs``) and should start from the same weights
(fine-tuned from one starting point, so that their average stays in the same basin). Every floating-point tensor
is the plain mean; the output is a weights file of the package's format (loads with ``--enhancer-weights``), its
``meta`` naming the ingredients and carrying the first run's data terms. Files load with ``weights_only=True``.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path
from typing import Any

import torch


def soup(paths: list[Path]) -> dict[str, Any]:
    """The mean of the runs' state dicts, in the first run's weights format."""
    runs = [torch.load(p, map_location="cpu", weights_only=True) for p in paths]
    first = runs[0]
    for path, run in zip(paths[1:], runs[1:], strict=True):
        if (run["arch"], run["arch_kwargs"]) != (first["arch"], first["arch_kwargs"]):
            raise SystemExit(f"{path}: architecture {run['arch']} {run['arch_kwargs']} differs from {paths[0]}'s "
                             f"{first['arch']} {first['arch_kwargs']}")
        if run["state_dict"].keys() != first["state_dict"].keys():
            raise SystemExit(f"{path}: its parameters differ from {paths[0]}'s")
    state = {k: (torch.stack([r["state_dict"][k] for r in runs]).mean(0) if v.is_floating_point() else v)
             for k, v in first["state_dict"].items()}
    meta = {"soup_of": [{"path": str(p), "sha256": hashlib.sha256(p.read_bytes()).hexdigest()} for p in paths],
            "data_terms": first.get("meta", {}).get("data_terms"),
            "config": first.get("meta", {}).get("config")}
    return {**{k: v for k, v in first.items() if k not in ("state_dict", "meta")}, "state_dict": state, "meta": meta}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("weights", type=Path, nargs="+", help="weights files of runs of one recipe (two or more)")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args()
    if len(args.weights) < 2:
        raise SystemExit("a soup needs at least two weights files")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(soup(args.weights), args.out)
    print(f"{args.out}: the mean of {len(args.weights)} runs")


if __name__ == "__main__":
    main()
