"""Speed of every enhancer (ms/image, megapixels/s) against a straightforward reference, and training step time.

    # CPU (state the threads; run on an otherwise idle machine)
    python benchmarks/bench_enhancers.py --device cpu --threads 2 --sizes 640x640 1280x720 --batches 1
    # GPU: every size, batch 1 and 8, fp32/fp16/bf16, channels_last, torch.compile, throughput targets
    python benchmarks/bench_enhancers.py --device cuda --sizes 256x256 640x640 1280x720 1920x1080 --batches 1 8 \\
        --modes default fp16 bf16 fp16-cl compile-fp16-cl --throughput zerodce:640x480:128 zerodce++:1200x900:64

Every timing is the median of repeated runs after warm-up (torch.utils.benchmark, which synchronises
CUDA). Each curve-enhancer row is compared in the same run against
:func:`lowlight_det.enhancers.reference.reference_forward` (contiguous NCHW float32, unfused): its
speed-up and the max abs output difference are printed next to it. Modes:

- ``default``: ``model(img)`` as the package runs it (float32; on CPU channels-last input and
  row-band tiling for large images, both exact);
- ``fp16`` / ``bf16``: model and input in that dtype; ``-cl``: channels-last model and input;
  ``compile-``: ``torch.compile`` of that mode (CUDA).

Writes ``enhancers[_LABEL].json`` and ``.md`` under ``--out``.
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils import benchmark

from lowlight_det import create_enhancer
from lowlight_det.cli import MMAP_THRESHOLD, tune_cpu_allocator
from lowlight_det.enhancers.reference import reference_forward
from lowlight_det.losses import ZeroReferenceLoss

CURVE = ("zerodce", "zerodce++", "zerodce-det", "zerodce++-det")


def _size(text: str) -> tuple[int, int]:
    w, h = (int(v) for v in text.lower().split("x"))
    return w, h


def _time(fn: Any, min_run_time: float) -> float:
    fn()  # warm-up (cuDNN algorithm choice, compilation, first allocations)
    fn()
    # Timer runs on 1 thread unless told (its default): time with the threads the run was given
    timer = benchmark.Timer("fn()", globals={"fn": fn}, num_threads=torch.get_num_threads())
    return timer.blocked_autorange(min_run_time=min_run_time).median


def _mode_model(model: nn.Module, mode: str, img: torch.Tensor) -> tuple[Any, torch.Tensor]:
    """(callable, its input) for a mode name: dtype, channels-last and compilation applied to a copy."""
    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(mode.replace("compile-", "").split("-")[0], torch.float32)
    m, x = copy.deepcopy(model).to(dtype), img.to(dtype)
    if mode.endswith("-cl"):
        m, x = m.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    fn: Any = torch.compile(m) if mode.startswith("compile-") else m
    return fn, x


def time_inference(
    name: str, size: tuple[int, int], batch: int, device: torch.device, modes: list[str], min_run_time: float
) -> list[dict[str, Any]]:
    model = create_enhancer(name).eval().to(device)
    img = torch.rand(batch, 3, size[1], size[0], device=device, generator=None)
    rows = []
    with torch.inference_mode():
        ref_s = None
        ref_out = None
        if name in CURVE:
            ref_out = reference_forward(model, img)
            ref_s = _time(lambda: reference_forward(model, img), min_run_time)
            rows.append(_row("inference", name, size, batch, "reference", ref_s, None, None))
        for mode in modes:
            if mode != "default" and name not in CURVE:
                continue
            if mode.startswith("compile-") and device.type != "cuda":
                continue
            fn, x = _mode_model(model, mode, img)
            s = _time(lambda fn=fn, x=x: fn(x), min_run_time)
            diff = float((fn(x).float() - ref_out).abs().max()) if ref_out is not None else None
            rows.append(_row("inference", name, size, batch, mode, s, ref_s, diff))
    for r in rows:
        print(r, flush=True)
    return rows


def _row(
    kind: str, name: str, size: tuple[int, int], batch: int, mode: str, seconds: float, ref_s: float | None, diff: float | None
) -> dict[str, Any]:
    ms = 1e3 * seconds / batch
    return {
        "kind": kind,
        "enhancer": name,
        "size": f"{size[0]}x{size[1]}",
        "batch": batch,
        "mode": mode,
        "ms_per_image": round(ms, 3),
        "megapixels_per_s": round(size[0] * size[1] / ms / 1e3, 2),
        "images_per_s": round(1e3 / ms, 1),
        "speedup_vs_reference": round(ref_s / seconds, 2) if ref_s else None,
        "max_abs_diff_vs_reference": diff,
    }


def time_throughput(spec: str, device: torch.device, modes: list[str], min_run_time: float) -> list[dict[str, Any]]:
    """``name:WxH:batch``: images/s of the given modes at a large batch (the paper's FPS comparison)."""
    name, size_text, batch = spec.split(":")
    size, b = _size(size_text), int(batch)
    model = create_enhancer(name).eval().to(device)
    img = torch.rand(b, 3, size[1], size[0], device=device)
    rows = []
    with torch.inference_mode():
        ref = reference_forward(model, img[:2])
        for mode in modes:
            if mode.startswith("compile-") and device.type != "cuda":
                continue
            fn, x = _mode_model(model, mode, img)
            s = _time(lambda fn=fn, x=x: fn(x), min_run_time)
            diff = float((fn(x[:2]).float() - ref).abs().max())
            rows.append(_row("throughput", name, size, b, mode, s, None, diff))
            print(rows[-1], flush=True)
    return rows


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

    return _time(step, min_run_time)


def _markdown(result: dict[str, Any]) -> str:
    lines = [
        f"Device: {result['device']}, {result['threads']} CPU threads, torch {result['torch']}, "
        f"allocator: {result.get('allocator', 'glibc default')}",
        "",
        "| kind | enhancer | size | batch | mode | ms/image | MP/s | images/s | speed-up vs reference | "
        "max abs diff vs reference | % of detector |",
        "|---|---|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        if r["kind"] == "train_step":
            continue
        diff = "" if r["max_abs_diff_vs_reference"] is None else f"{r['max_abs_diff_vs_reference']:.1e}"
        speed = "" if r["speedup_vs_reference"] is None else f"{r['speedup_vs_reference']}x"
        lines.append(
            f"| {r['kind']} | {r['enhancer']} | {r['size']} | {r['batch']} | {r['mode']} | "
            f"{r['ms_per_image']} | {r['megapixels_per_s']} | {r['images_per_s']} | {speed} | {diff} | "
            f"{r.get('percent_of_detector', '')} |"
        )
    train = [r for r in result["rows"] if r["kind"] == "train_step"]
    if train:
        lines += [
            "",
            "| zero-reference training step | size | batch | s/step | s per SICE epoch (251 steps, compute only) |",
            "|---|---|---:|---:|---:|",
        ]
        lines += [
            f"| {r['enhancer']} | {r['size']} | {r['batch']} | {r['s_per_step']} | {r['s_per_sice_epoch']} |" for r in train
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--enhancers", nargs="+", default=["zerodce", "zerodce++", "zerodce++-det", "gamma", "clahe", "none"])
    p.add_argument("--sizes", nargs="+", default=["640x640", "1280x720"])
    p.add_argument("--batches", type=int, nargs="+", default=[1])
    p.add_argument("--modes", nargs="+", default=["default"])
    p.add_argument("--throughput", nargs="*", default=[], help="name:WxH:batch images/s runs")
    p.add_argument("--throughput-modes", nargs="+", default=["fp16", "fp16-cl", "compile-fp16-cl"])
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--train-size", type=int, nargs="*", default=[256], help="training step image sizes")
    p.add_argument("--min-run-time", type=float, default=1.0)
    p.add_argument("--label", default="", help="names the output files enhancers[_LABEL].json/md")
    p.add_argument("--detector", default=None, help="also time this YOLO .pt's forward at each size: each enhancer's "
                                                    "cost as a share of it (same process)")
    p.add_argument("--out", default="benchmarks/results")
    p.add_argument("--default-allocator", action="store_true",
                   help="keep glibc's default mmap threshold (the package's entry points raise it: cli.tune_cpu_allocator)")
    args = p.parse_args()
    allocator = "glibc default" if args.default_allocator or not tune_cpu_allocator() else \
        f"glibc mmap threshold {MMAP_THRESHOLD >> 20} MiB (as the entry points set it)"
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    dev_name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU {platform.machine()}"
    rows: list[dict[str, Any]] = []
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"enhancers_{args.label}" if args.label else "enhancers"
    result = {"device": dev_name, "threads": torch.get_num_threads(), "torch": torch.__version__,
              "allocator": allocator, "args": vars(args), "rows": rows}

    def save() -> None:  # after every group, so that a run stopped at a time limit keeps what it measured
        (out / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
        (out / f"{stem}.md").write_text(_markdown(result))

    detector_ms: dict[tuple[str, int], float] = {}
    if args.detector:  # the detector's own forward at the same sizes, in the same process: what enhancers cost beside it
        from lowlight_det.detection.ultralytics import build_detector

        det = build_detector(args.detector).model.eval().to(device)
        torch.set_num_threads(args.threads or torch.get_num_threads())  # Ultralytics may have changed them
        for text in args.sizes:
            for batch in args.batches:
                w, h = _size(text)
                x = torch.rand(batch, 3, -(-h // 32) * 32, -(-w // 32) * 32, device=device)  # letterboxed to stride 32
                with torch.inference_mode():
                    s = _time(lambda x=x: det(x), args.min_run_time)
                detector_ms[(text, batch)] = 1e3 * s / batch
                rows.append({**_row("inference", f"detector {Path(args.detector).name}", _size(text), batch, "default", s,
                                    None, None), "kind": "detector"})
                print(rows[-1], flush=True)
    for name in [n for n in CURVE if n in ("zerodce", "zerodce++")]:
        for size in args.train_size:
            s = time_train_step(name, device, 8, size, args.min_run_time)
            rows.append({"kind": "train_step", "enhancer": name, "size": f"{size}x{size}", "batch": 8,
                         "s_per_step": round(s, 4), "s_per_sice_epoch": round(s * 251, 1)})
            print(rows[-1], flush=True)
    for spec in args.throughput:
        rows += time_throughput(spec, device, args.throughput_modes, args.min_run_time)
        save()
    for name in args.enhancers:
        for text in args.sizes:
            for batch in args.batches:
                new = time_inference(name, _size(text), batch, device, args.modes, args.min_run_time)
                for r in new:
                    if (text, batch) in detector_ms:
                        r["percent_of_detector"] = round(100 * r["ms_per_image"] / detector_ms[(text, batch)], 1)
                rows += new
                save()
    save()
    print(_markdown(result))

if __name__ == "__main__":
    main()
