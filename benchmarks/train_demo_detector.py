"""Train the demo detector shipped in lowlight_det/weights/ on the *well-lit* demo scenes.

    python benchmarks/train_demo_detector.py --epochs 30 --imgsz 320

Writes lowlight_det/weights/demo-yolo-<sha8>.pt and a .json with how it was trained and its
well-lit validation mAP. CPU-friendly: a small YOLO built from benchmarks/demo_yolo.yaml, no downloads.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import time
from pathlib import Path

os.environ.setdefault("YOLO_OFFLINE", "1")

import torch  # noqa: E402
from ultralytics import YOLO  # noqa: E402

from lowlight_det.demo import CLASSES, WEIGHTS_DIR, ensure_demo_data  # noqa: E402
from lowlight_det.runinfo import versions  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", default=str(Path(__file__).with_name("demo_yolo.yaml")))
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--imgsz", type=int, default=320)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--out", default="runs/demo_detector")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    root = ensure_demo_data(splits=("train", "val"))
    model = YOLO(args.model)
    # Ultralytics sets torch to (cores - 1) threads on CPU; take the cores we were given
    model.add_callback("on_train_epoch_start", lambda _trainer: torch.set_num_threads(args.threads))
    t0 = time.time()
    model.train(data=str(root / "light" / "data.yaml"), epochs=args.epochs, imgsz=args.imgsz, batch=args.batch,
                device="cpu", workers=0, seed=args.seed, deterministic=True, plots=False, amp=False,
                project=str(Path(args.out).resolve()), name="train", exist_ok=True, verbose=False)
    minutes = (time.time() - t0) / 60
    best = Path(args.out).resolve() / "train" / "weights" / "best.pt"
    metrics = YOLO(str(best)).val(data=str(root / "light" / "data.yaml"), imgsz=args.imgsz, split="val",
                                  device="cpu", plots=False, verbose=False)
    digest = hashlib.sha256(best.read_bytes()).hexdigest()
    WEIGHTS_DIR.mkdir(exist_ok=True)
    for old in WEIGHTS_DIR.glob("demo-yolo-*"):
        old.unlink()
    dst = WEIGHTS_DIR / f"demo-yolo-{digest[:8]}.pt"
    shutil.copyfile(best, dst)
    meta = {"file": dst.name, "sha256": digest, "model": os.path.relpath(args.model), "classes": CLASSES, "epochs": args.epochs,
            "imgsz": args.imgsz, "batch": args.batch, "seed": args.seed, "train_minutes_cpu": round(minutes, 1),
            "trained_on": "demo scenes, split train (600 well-lit images)",
            "well_lit_val_ultralytics": {"map50": round(100 * metrics.box.map50, 2),
                                         "map50_95": round(100 * metrics.box.map, 2)},
            "versions": versions(), "license": "MIT (trained by lowlight_det on its own synthetic data)"}
    dst.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
    print(json.dumps(meta, indent=2))


if __name__ == "__main__":
    main()
