#!/usr/bin/env bash
# Issue 12's fusion check on the 379 ExDark test images: each enhanced view fused with the raw one (weighted box
# fusion), next to the control (the raw view fused with its mirror), COCO YOLO11n zero-shot, 640, CPU.
set -euo pipefail
SHARED=${SHARED:-../shared}
OUT=${OUT:-runs/fusion_exdark}
python -m lowlight_det.eval --data "$SHARED/data/exdark-mini" --split test \
    --weights "$SHARED/models/yolo11n-coco.pt" --enhance "${ENHANCE:-gamma,clahe,zerodce++,zerodce++-det}" --fuse \
    --imgsz 640 --batch-size 8 --gallery 0 --delta-ci 200 --out "$OUT" --resume "$@"
mkdir -p benchmarks/results/fusion_exdark
cp "$OUT/metrics.json" "$OUT/report.md" benchmarks/results/fusion_exdark/
