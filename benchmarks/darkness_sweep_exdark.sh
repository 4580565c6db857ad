#!/usr/bin/env bash
# Issue 12's darkness sweep on real dark images: the 379 official test-split images of the ExDark sample in
# ../shared, each also darkened by 1, 2, 3, 4 and 6 stops on the fixed sensor (darken_stops), COCO-pretrained
# YOLO11n zero-shot, imgsz 640, paired 95% intervals of each Δ mAP50 vs none at the same darkness.
# CPU (2 cores, ~1 h): full-resolution Zero-DCE rows are left out here (1.8 s per 640x640 image on 2 cores).
# The evaluation folder (with the darkened ExDark copies) stays under runs/; only the aggregate metrics,
# report and plot are copied into benchmarks/results/ (ExDark's terms: no images or annotations in the repo).
set -euo pipefail
SHARED=${SHARED:-../shared}
OUT=${OUT:-runs/darkness_sweep_exdark}
ENHANCE=${ENHANCE:-none,gamma,clahe,zerodce++,zerodce++-det}
python -m lowlight_det.eval --data "$SHARED/data/exdark-mini" --split test \
    --weights "$SHARED/models/yolo11n-coco.pt" --enhance "$ENHANCE" --darken-ev 0,1,2,3,4,6 \
    --imgsz 640 --batch-size 8 --gallery 0 --delta-ci 200 --out "$OUT" --resume "$@"
mkdir -p benchmarks/results/darkness_sweep_exdark
# numbers only: no picture derived from ExDark is committed (its terms; the plots stay in $OUT)
cp "$OUT/metrics.json" "$OUT/report.md" benchmarks/results/darkness_sweep_exdark/
