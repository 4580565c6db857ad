"""CPU/GPU latency of the enhancers (ms/image, megapixels/s) and zero-reference training step time.

    python benchmarks/bench_enhancers.py --sizes 1280x720 640x640 --threads 2 --out benchmarks/results

Times with torch.utils.benchmark (median of repeated runs after warm-up; CUDA is synchronised by
the Timer). Writes JSON and a Markdown table with the device, threads, dtype and image size of
every number. Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import torch
from torch.utils import benchmark

from lowlight_det import create_enhancer
from lowlight_det.losses import ZeroReferenceLoss


def _size(text: str) -> tuple[int, int]:
    w, h = (int(v) for v in text.lower().split("x"))
    return w, h


def time_inference(name: str, size: tuple[int, int], batch: int, device: torch.device, min_run_time: float) -> float:
    model = create_enhancer(name, weights=None).eval().to(device)
    img = torch.rand(batch, 3, size[1], size[0], device=device)
    with torch.inference_mode():
        model(img)
        t = benchmark.Timer("model(img)", globals={"model": model, "img": img}).blocked_autorange(
            min_run_time=min_run_time)
    return 1e3 * t.median / batch


def time_train_step(name: str, device: torch.device, batch: int, size: int, min_run_time: float) -> float:
    kwargs = {"scale_factor": 1} if name == "zerodce++" else {}
    model = create_enhancer(name, weights=None, **kwargs).to(device)
    loss_fn = ZeroReferenceLoss(smoothness=1600 if name == "zerodce++" else 200)
    opt = torch.optim.Adam(model.parameters(), 1e-4, weight_decay=1e-4)
    img = torch.rand(batch, 3, size, size, device=device)

    def step() -> None:
        out = model.forward_curves(img)
        loss = loss_fn(out.image, img, out.curves).total
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.1)
        opt.step()

    step()
    return benchmark.Timer("step()", globals={"step": step}).blocked_autorange(min_run_time=min_run_time).median


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--enhancers", nargs="+", default=["zerodce", "zerodce++", "gamma", "clahe", "none"])
    p.add_argument("--sizes", nargs="+", default=["1280x720", "640x640"])
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--train-size", type=int, nargs="*", default=[256, 128], help="training step image sizes")
    p.add_argument("--min-run-time", type=float, default=2.0)
    p.add_argument("--out", default="benchmarks/results")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    dev_name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU {platform.machine()}"
    rows = []
    for name in args.enhancers:
        for text in args.sizes:
            size = _size(text)
            ms = time_inference(name, size, args.batch, device, args.min_run_time)
            rows.append({"kind": "inference", "enhancer": name, "size": text, "batch": args.batch, "dtype": "float32",
                         "ms_per_image": round(ms, 2), "megapixels_per_s": round(size[0] * size[1] / ms / 1e3, 2)})
            print(rows[-1])
    for name in ("zerodce", "zerodce++"):
        for size in args.train_size:
            s = time_train_step(name, device, 8, size, args.min_run_time)
            rows.append({"kind": "train_step", "enhancer": name, "size": f"{size}x{size}", "batch": 8, "dtype": "float32",
                         "s_per_step": round(s, 3), "s_per_sice_epoch": round(s * 251, 1)})
            print(rows[-1])
    result = {"device": dev_name, "threads": torch.get_num_threads(), "torch": torch.__version__, "rows": rows}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "enhancers.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [f"Device: {dev_name}, {torch.get_num_threads()} threads, torch {torch.__version__}", "",
             "| kind | enhancer | size | batch | ms/image | MP/s | s/step | s/SICE epoch (251 steps) |",
             "|---|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['kind']} | {r['enhancer']} | {r['size']} | {r['batch']} | {r.get('ms_per_image', '')} | "
                     f"{r.get('megapixels_per_s', '')} | {r.get('s_per_step', '')} | {r.get('s_per_sice_epoch', '')} |")
    (out / "enhancers.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
