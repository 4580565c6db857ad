"""Ship a detection-tuned enhancer run (``benchmarks/finetune_exdark.py tune``) as package weights.

    python benchmarks/ship_detection_tuned.py runs/ft/zerodcepp-gate-seed0/best.pt --tag det-yolo11n \\
        --note "seed-0 run (fixed rule) of ..."

Adds a ``shipped`` block to the checkpoint's metadata (what it was tuned on and for, how it was
selected), then writes ``lowlight_det/weights/<arch>-<tag>-<sha8>.pt`` (print its sha256 for
``lowlight_det/enhancers/shipped.py``).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from lowlight_det.enhancers.weights import atomic_save, export_weights, read_checkpoint, sha256_file


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("best", help="best.pt of a fine-tuning run")
    p.add_argument("--tag", default="det-yolo11n")
    p.add_argument("--detector", default="yolo11n-coco.pt (COCO-pretrained YOLO11n, frozen; Conv+BN folded)")
    p.add_argument("--data", default="ExDark official train split, 1,200-image sample (100 per class)")
    p.add_argument("--note", default="")
    p.add_argument("--out", default="lowlight_det/weights")
    args = p.parse_args()
    ckpt = read_checkpoint(args.best)
    meta = ckpt["meta"]
    meta["shipped"] = {"tuned_for": args.detector, "tuned_on": args.data,
                       "held_out": meta.get("dataset", {}).get("val"), "selection": args.note,
                       "license": "MIT (trained by lowlight_det's own code)"}
    with tempfile.TemporaryDirectory() as tmp:
        patched = atomic_save(ckpt, Path(tmp) / "best.pt")
        final = export_weights(patched, args.out, tag=args.tag)
    print(final, sha256_file(final))


if __name__ == "__main__":
    main()
