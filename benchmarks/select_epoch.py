"""Choose a zero-reference run's epoch by how close it comes to the authors' model on photos it has not seen.

The rule (documented in the README): among a run's ``epoch_NNN.pt`` (``python -m lowlight_det.train
--keep-epochs --holdout N``), take the one with the highest mean PSNR against the authors' output on the
run's held-out low-light images (``holdout.txt``, those with a mean input brightness below 0.3: what the
enhancer is for; SICE's sequences also hold over-exposed shots); ties within 0.05 dB go to the earlier epoch. The authors' outputs
are computed here at run time from their checkpoint (non-commercial: benchmark only, never shipped). The
authors' three parity photos, used neither for training nor for the choice, are the test: their PSNR is
reported for every epoch and for the weights shipped today, next to the brightness of each output.

    python benchmarks/select_epoch.py --run runs/select_zerodce128 \\
        --official ../shared/data/zerodce-parity/zerodce_official_Epoch99.pth
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch import Tensor

from lowlight_det import create_enhancer
from lowlight_det.enhancers.weights import read_checkpoint
from lowlight_det.io import read_image

TIE_DB = 0.05
DARK_BELOW = 0.3


def _tensor(rgb: np.ndarray) -> Tensor:
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float()


def load_images(paths: list[Path]) -> list[Tensor]:
    """Float RGB (1,3,H,W) in [0,1], at the files' own size."""
    return [_tensor(read_image(p).rgb) for p in paths]


def load_parity(root: Path) -> list[Tensor]:
    out = []
    for path in sorted(root.glob("case*_input.png")):
        rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        out.append(_tensor(rgb) / 255)
    return out


@torch.inference_mode()
def outputs(model: torch.nn.Module, images: list[Tensor]) -> list[Tensor]:
    return [model(img).clamp(0, 1) for img in images]


def compare(ours: list[Tensor], reference: list[Tensor]) -> dict[str, float]:
    """Mean PSNR (dB, per image then averaged) and mean brightness of ours and of the reference."""
    psnr = [10 * math.log10(1 / max(float((a - b).pow(2).mean()), 1e-12)) for a, b in zip(ours, reference, strict=True)]
    return {"psnr_db": round(float(np.mean(psnr)), 2), "psnr_min_db": round(float(np.min(psnr)), 2),
            "brightness": round(float(np.mean([float(a.mean()) for a in ours])), 4),
            "brightness_official": round(float(np.mean([float(b.mean()) for b in reference])), 4)}


def choose(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The rule: highest PSNR on the held-out low-light images; within TIE_DB of it, the earliest epoch."""
    best = max(r["holdout_dark"]["psnr_db"] for r in rows)
    return min((r for r in rows if r["holdout_dark"]["psnr_db"] >= best - TIE_DB), key=lambda r: r["epoch"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", required=True, help="a training run folder with epoch_NNN.pt and holdout.txt")
    p.add_argument("--official", required=True, help="the authors' checkpoint for this architecture")
    p.add_argument("--parity", default="../shared/data/zerodce-parity", help="folder with case*_input.png")
    p.add_argument("--compare", default="default", help="weights to report next to the epochs (today's default)")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out", default=None, help="JSON to write (default: benchmarks/results/<run name>_epochs.json)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    run = Path(args.run)
    epochs = sorted(run.glob("epoch_*.pt"))
    if not epochs:
        raise SystemExit(f"{run}: no epoch_NNN.pt (train with --keep-epochs)")
    first = read_checkpoint(epochs[0])
    meta, arch = first["meta"], first["arch"]
    data_root = Path(meta["dataset"]["root"])
    held = [data_root / line for line in (run / "holdout.txt").read_text().split()]
    kw: dict[str, Any] = {"scale_factor": 1} if arch == "zerodce++" else {}
    official = create_enhancer(arch, weights=args.official, **kw).eval()
    holdout_imgs, parity_imgs = load_images(held), load_parity(Path(args.parity))
    dark = [i for i, img in enumerate(holdout_imgs) if float(img.mean()) < DARK_BELOW]
    ref_holdout, ref_parity = outputs(official, holdout_imgs), outputs(official, parity_imgs)

    def measure(weights: str | Path) -> dict[str, Any]:
        model = create_enhancer(arch, weights=weights, **kw).eval()
        ours = outputs(model, holdout_imgs)
        return {"holdout_dark": compare([ours[i] for i in dark], [ref_holdout[i] for i in dark]),
                "holdout": compare(ours, ref_holdout), "parity": compare(outputs(model, parity_imgs), ref_parity)}

    rows = []
    for path in epochs:
        rows.append({"epoch": int(read_checkpoint(path)["meta"]["epoch"]), "file": str(path), **measure(path)})
        print(json.dumps(rows[-1]))
    chosen = choose(rows)
    result = {"arch": arch, "run": str(run), "rule": f"highest mean PSNR vs the authors' output on the run's "
              f"{len(dark)} held-out images with mean brightness < {DARK_BELOW} (of {len(held)} held out); within "
              f"{TIE_DB} dB the earliest epoch",
              "holdout_images": len(held), "holdout_dark_images": len(dark), "parity_images": len(parity_imgs),
              "config": meta["config"],
              "chosen_epoch": chosen["epoch"], "chosen": chosen, "epochs": rows,
              "compare": {"weights": args.compare, **measure(args.compare)}}
    print(f"chosen: epoch {chosen['epoch']}: dark hold-out {chosen['holdout_dark']['psnr_db']} dB, parity photos "
          f"{chosen['parity']['psnr_db']} dB (today's {args.compare}: {result['compare']['parity']['psnr_db']} dB)")
    out = Path(args.out or f"benchmarks/results/{run.name}_epochs.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
