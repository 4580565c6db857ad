"""Which full-resolution Zero-DCE path is fastest on this CPU (issue 16, target 6): memory layout x row bands.

    python benchmarks/zerodce_layouts.py --threads 2 --sizes 640x640 1280x720 --label amd_epyc_avx512

Times, interleaved in one process (rounds of every path in turn, the median per path), the straightforward reference
(``reference_forward``: contiguous NCHW, one pass) and the package's inference path with DCE-Net's input
channels-last or NCHW, in one pass or in exact row bands of 64, 128 or 256 rows; each path's max abs difference to
the reference is printed next to it. Input: a fixed dark random image (values in [0, 0.3]). Writes
``benchmarks/results/zerodce_layouts_LABEL.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from lowlight_det.cli import tune_cpu_allocator
from lowlight_det.enhancers import create_enhancer
from lowlight_det.enhancers.reference import reference_forward
from lowlight_det.enhancers.zerodce import ZeroDCE


def _paths() -> dict[str, tuple[str, int | None]]:
    return {f"{layout}, {'one pass' if rows is None else f'bands of {rows}'}": (layout, rows)
            for layout in ("channels-last", "nchw") for rows in (None, 64, 128, 256)}


def _run(model: ZeroDCE, img: torch.Tensor, layout: str, rows: int | None) -> torch.Tensor:
    model.band_rows, model.band_pixels = rows, None  # rows None: one pass at any size
    if layout == "nchw":
        model._conv_layout = lambda x: x.contiguous()  # type: ignore[method-assign]
    else:
        model.__dict__.pop("_conv_layout", None)
    with torch.no_grad():
        return model(img)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--sizes", nargs="+", default=["640x640", "1280x720"])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--label", default="cpu")
    args = p.parse_args()
    tune_cpu_allocator()
    torch.set_num_threads(args.threads)
    model = create_enhancer("zerodce").eval()
    assert isinstance(model, ZeroDCE)
    default = model.band_rows, model.band_pixels
    results: dict[str, Any] = {"machine": platform.processor() or platform.machine(), "threads": args.threads,
                               "torch": torch.__version__, "dtype": "float32", "batch": 1,
                               "default": f"channels-last, band_rows {default[0]}, band_pixels {default[1]}", "sizes": {}}
    for size in args.sizes:
        w, h = (int(v) for v in size.split("x"))
        img = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(0)) * 0.3
        with torch.no_grad():
            ref = reference_forward(model, img)
        paths = _paths()
        times: dict[str, list[float]] = {"reference": [], **{name: [] for name in paths}}
        diffs = {name: float((_run(model, img, *spec) - ref).abs().max()) for name, spec in paths.items()}  # warm-up
        for _ in range(args.rounds):
            for name in times:
                t0 = time.perf_counter()
                if name == "reference":
                    with torch.no_grad():
                        reference_forward(model, img)
                else:
                    _run(model, img, *paths[name])
                times[name].append(time.perf_counter() - t0)
        rows = {name: {"ms": round(1000 * statistics.median(t), 1), "max_abs_diff": diffs.get(name, 0.0)}
                for name, t in times.items()}
        results["sizes"][size] = rows
        print(f"\n{size} (batch 1, {args.threads} threads, median of {args.rounds} interleaved rounds)")
        for name, row in sorted(rows.items(), key=lambda kv: kv[1]["ms"]):
            ratio = rows["reference"]["ms"] / row["ms"]
            print(f"  {name:32s} {row['ms']:8.1f} ms  {ratio:4.2f}x reference  max abs diff {row['max_abs_diff']:.1e}")
    model.band_rows, model.band_pixels = default
    out = Path("benchmarks/results") / f"zerodce_layouts_{args.label}.json"
    out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
