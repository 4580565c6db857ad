"""How close our shipped weights come to the authors' on the parity photos (PSNR, mean abs diff, brightness).

    python benchmarks/compare_official.py --parity ../shared/data/zerodce-parity
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import cv2
import torch

from lowlight_det import create_enhancer


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--parity", default="../shared/data/zerodce-parity")
    p.add_argument("--ours", nargs=2, metavar=("ZERODCE", "ZERODCEPP"), default=["default", "default"])
    p.add_argument("--out", default="benchmarks/results/compare_official.json")
    args = p.parse_args()
    root = Path(args.parity)
    inputs = sorted(root.glob("case*_input.png"))
    rows = []
    for arch, official, ours_w, kw in (("zerodce", "zerodce_official_Epoch99.pth", args.ours[0], {}),
                                       ("zerodce++", "zerodcepp_official_Epoch99.pth", args.ours[1], {"scale_factor": 1})):
        ref = create_enhancer(arch, weights=root / official, **kw).eval()
        ours = create_enhancer(arch, weights=ours_w, **kw).eval()
        for path in inputs:
            rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
            img = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255
            with torch.inference_mode():
                a, b = ref(img).clamp(0, 1), ours(img).clamp(0, 1)
            mse = float((a - b).pow(2).mean())
            rows.append({"arch": arch, "image": path.name, "psnr_db": round(10 * math.log10(1 / max(mse, 1e-12)), 2),
                         "mean_abs_diff": round(float((a - b).abs().mean()), 4),
                         "brightness_input": round(float(img.mean()), 4),
                         "brightness_official": round(float(a.mean()), 4), "brightness_ours": round(float(b.mean()), 4)})
            print(rows[-1])
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
