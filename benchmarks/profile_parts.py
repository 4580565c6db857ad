"""Where a curve enhancer's CPU inference time goes: denoising stage, strength gate (and its statistics), the
low-resolution curve estimate (DCE-Net and resampling), the curve steps; wall-clock means after warm-up.

    python benchmarks/profile_parts.py --enhancer zerodce++-det --size 640x640 --batch 1 --threads 2

Run it on an otherwise idle machine. The parts are timed one by one on the same input (the gate and curves on the
denoised image), so they add up to about the whole; the rest is Python between them.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import torch

from lowlight_det import create_enhancer
from lowlight_det.cli import setup_cpu
from lowlight_det.enhancers.functional import apply_curves_inplace
from lowlight_det.enhancers.gate import illumination_stats


def _ms(fn: Callable[[], object], repeats: int, per: int) -> float:
    for _ in range(max(3, repeats // 10)):
        fn()
    t = time.perf_counter()
    for _ in range(repeats):
        fn()
    return round((time.perf_counter() - t) / repeats * 1e3 / per, 3)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--enhancer", default="zerodce++-det")
    ap.add_argument("--size", default="640x640", help="WxH")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=100)
    args = ap.parse_args()
    setup_cpu(args.threads)
    width, height = (int(v) for v in args.size.split("x"))
    model = create_enhancer(args.enhancer).eval()
    x = torch.rand(args.batch, 3, height, width, generator=torch.Generator().manual_seed(0)) * 0.3
    ms = lambda fn: _ms(fn, args.repeats, args.batch)  # noqa: E731
    parts: dict[str, float] = {}
    with torch.inference_mode():
        parts["whole"] = ms(lambda: model(x))
        denoiser, gate = getattr(model, "denoiser", None), getattr(model, "gate", None)
        img = denoiser(x) if denoiser is not None else x
        if denoiser is not None:
            parts["denoising stage"] = ms(lambda: denoiser(x))
        if gate is not None:
            parts["strength gate"] = ms(lambda: gate(img))
            parts["of which global statistics"] = ms(lambda: illumination_stats(img))
        parts["curve estimate (low resolution)"] = ms(lambda: model._inference_curves(img))
        curves, strength = model._inference_curves(img), model._inference_strength(img)
        out = torch.empty_like(img)
        n_iter = model.n_iter if model.shared_curve else None
        parts["curve steps"] = ms(lambda: apply_curves_inplace(img, curves, n_iter, scale=strength, out=out))
    print(json.dumps({"enhancer": args.enhancer, "size": args.size, "batch": args.batch, "threads": args.threads,
                      "ms_per_image": parts}, indent=1))


if __name__ == "__main__":
    main()
