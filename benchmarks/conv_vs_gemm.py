"""How close full-resolution Zero-DCE's convolutions already run to this CPU's matrix-multiply speed (issue 16's
target 3: exact Zero-DCE at least 3x the straightforward reference).

    python benchmarks/conv_vs_gemm.py --threads 2 --label amd_epyc

Times, on an otherwise idle machine, float32 matrix products of the shapes an im2col convolution of DCE-Net would
multiply (640x640 pixels x 9·C_in, times C_in x 32 output channels) and DCE-Net's 32 -> 32 3x3 convolution at
640x640 as PyTorch runs it (oneDNN, contiguous and channels-last), in GFLOP/s. If the convolution already runs at
the speed of the matrix product, an exact float32 rewrite cannot gain much: only fewer multiplications would
(Winograd's F(2x2, 3x3): at most 2.25x, less its transforms). Writes benchmarks/results/conv_vs_gemm_LABEL.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F


def _seconds(fn: Callable[[], object], repeats: int) -> float:
    fn()
    t = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - t) / repeats


def _product(a: torch.Tensor, b: torch.Tensor) -> Callable[[], torch.Tensor]:
    return lambda: a @ b


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--label", default="cpu")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    pixels = 640 * 640
    rows: dict[str, float] = {}
    for k in (288, 576):  # 9 x 32 and 9 x 64 input channels (DCE-Net's 32- and 64-channel layers)
        a, b = torch.rand(pixels, k), torch.rand(k, 32)
        rows[f"gemm {pixels}x{k} @ {k}x32"] = 2 * pixels * k * 32 / _seconds(_product(a, b), args.repeats) / 1e9
    x, w = torch.rand(1, 32, 640, 640), torch.rand(32, 32, 3, 3)
    flops = 2 * pixels * 32 * 32 * 9
    rows["conv 32->32 3x3 640x640"] = flops / _seconds(lambda: F.conv2d(x, w, padding=1), args.repeats) / 1e9
    xc = x.contiguous(memory_format=torch.channels_last)
    rows["conv 32->32 3x3 640x640 channels-last"] = flops / _seconds(lambda: F.conv2d(xc, w, padding=1), args.repeats) / 1e9
    result = {"gflops": {k: round(v, 1) for k, v in rows.items()}, "threads": args.threads, "dtype": "float32",
              "cpu_capability": torch.backends.cpu.get_cpu_capability(), "machine": platform.processor() or platform.machine(),
              "torch": torch.__version__}
    out = Path(__file__).parent / "results" / f"conv_vs_gemm_{args.label}.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
