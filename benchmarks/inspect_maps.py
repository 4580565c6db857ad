"""What a detection-tuned enhancer's learned maps do: its strength (per image, or the spatial map's spread) and its
denoising map, on images as they are and darkened by a number of stops on the sweep's sensor. Numbers only.

    python benchmarks/inspect_maps.py --weights zerodce++.det-yolo11n-dn runs/dark_spatial_cpu/best.pt \\
        --images ../shared/data/exdark-mini/ExDark --limit 48 --ev 3 --noise 3e-3

Images are taken in sorted order, every ``len/limit``-th one (a spread over the classes of ExDark's folder
layout), resized so the longer side is 640 like the detector's input (darkened at their own resolution
first, as the evaluator does). For each weights: the mean over images of
the mean strength, of the strength's spread inside an image (max − min of the map; 0 for a per-image gate), and
of the mean denoising map (and, for a two-scale stage, of its wider-blur map), as they are and darkened; and the same
split by the image's mean luminance (darkest third / brightest third). Prints a markdown table; ``--json`` writes the numbers.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from lowlight_det import create_enhancer
from lowlight_det.data.synthesis import SensorModel, darken_stops
from lowlight_det.enhancers.denoise import binomial_blur
from lowlight_det.enhancers.gate import luminance
from lowlight_det.io import read_rgb8

SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}


def _images(folder: Path, limit: int) -> list[Path]:
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in SUFFIXES)
    if not files:
        raise SystemExit(f"{folder}: no images")
    step = max(1, len(files) // limit)
    return files[::step][:limit]


def _tensor(rgb: np.ndarray) -> torch.Tensor:
    scale = 640 / max(rgb.shape[:2])
    if scale < 1:
        rgb = cv2.resize(rgb, (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float() / 255


def _maps(model: torch.nn.Module, x: torch.Tensor) -> dict[str, float]:
    out: dict[str, float] = {}
    denoiser = getattr(model, "denoiser", None)
    if denoiser is not None:
        m = denoiser.mix_map(x, x - binomial_blur(x))
        out["denoise"] = float(m[:, :1].mean())
        if m.shape[1] == 2:  # a two-scale stage (denoise=2): how far towards the 9x9 blur
            out["wide"] = float(m[:, 1:].mean())
        x = denoiser(x)
    gate = getattr(model, "gate", None)
    if gate is not None:
        s = gate(x)
        out["strength"] = float(s.mean())
        out["spread"] = float(s.amax() - s.amin())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", nargs="+", required=True, help="zerodce++ weights ids or files")
    ap.add_argument("--images", required=True, type=Path)
    ap.add_argument("--limit", type=int, default=48)
    ap.add_argument("--ev", type=float, default=3.0)
    ap.add_argument("--noise", type=float, default=3e-3, help="shot noise of the sweep's sensor")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    torch.set_num_threads(2)
    files = _images(args.images, args.limit)
    sensor = SensorModel.with_noise(args.noise)
    images = []  # decoded and darkened once for all weights
    for i, path in enumerate(files):
        rgb = read_rgb8(path)  # darkened at its own resolution, then resized, as the evaluator does
        images.append((_tensor(rgb), _tensor(darken_stops(rgb, args.ev, index=i, sensor=sensor))))
    results: dict[str, Any] = {}
    for weights in args.weights:
        model = create_enhancer("zerodce++", weights=weights).eval()
        with torch.inference_mode():
            per = [{"lum": float(luminance(x).mean()), "as_is": _maps(model, x), "dark": _maps(model, dark)}
                   for x, dark in images]
        per.sort(key=lambda r: r["lum"])
        third = max(1, len(per) // 3)
        groups = {"all": per, "darkest third": per[:third], "brightest third": per[-third:]}
        results[str(weights)] = {
            g: {cond: {k: round(statistics.mean(r[cond][k] for r in rows), 3) for k in rows[0][cond]}
                for cond in ("as_is", "dark")} for g, rows in groups.items()}
    print(f"{len(files)} images from {args.images}; darkened: {args.ev:g} EV, shot noise {args.noise:g}\n")
    print("| weights | images | strength as is / dark | spread in image as is / dark | denoise map as is / dark "
          "| wider-blur map as is / dark |")
    print("|---|---|---:|---:|---:|---:|")
    for weights, groups in results.items():
        for g, conds in groups.items():
            cells = [" / ".join(f"{conds[c][k]:.2f}" for c in ("as_is", "dark")) if k in conds["as_is"] else "—"
                     for k in ("strength", "spread", "denoise", "wide")]
            print(f"| {weights} | {g} | " + " | ".join(cells) + " |")
    if args.json:
        args.json.write_text(json.dumps({"images": len(files), "ev": args.ev, "noise": args.noise,
                                         "results": results}, indent=1))


if __name__ == "__main__":
    main()
