#!/usr/bin/env bash
# The README's ExDark table: the 379 official test-split images of the 427-image ExDark sample in
# ../shared, COCO-pretrained YOLO11n zero-shot (ExDark -> COCO class map), imgsz 640, CPU.
set -euo pipefail
SHARED=${SHARED:-../shared}
python -m lowlight_det.eval --data "$SHARED/data/exdark-mini" --split test \
    --weights "$SHARED/models/yolo11n-coco.pt" --enhance none,zerodce,zerodce++,gamma,clahe \
    --imgsz 640 --batch-size 8 --out benchmarks/results/exdark_mini "$@"
