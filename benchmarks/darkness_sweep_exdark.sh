#!/usr/bin/env bash
# Issue 12's darkness sweep on real dark images: the 379 official test-split images of the ExDark sample in
# ../shared, each also darkened by 1 to 6 stops on the fixed sensor (darken_stops), COCO-pretrained YOLO11n
# zero-shot, imgsz 640, paired 95% intervals of each Δ mAP50 vs none at the same darkness.
# Session 16 (2-core AVX-512 EPYC, 68 min; full-resolution Zero-DCE 0.37 s per image through the evaluator there):
#   ENHANCE=none,gamma,clahe,zerodce,zerodce++,zerodce-det,zerodce++-det,zerodce++-det-free,zerodce++-det-dark \
#       RESULTS=benchmarks/results/darkness_sweep_exdark_s16 OUT=runs/darkness_sweep_exdark_s16 \
#       bash benchmarks/darkness_sweep_exdark.sh --threads 2
# Session 4 (benchmarks/results/darkness_sweep_exdark/): 0,1,2,3,4,6 stops, without the full-resolution rows.
# The evaluation folder (with the darkened ExDark copies) stays under runs/; only the aggregate metrics,
# report and plot are copied into benchmarks/results/ (ExDark's terms: no images or annotations in the repo).
set -euo pipefail
SHARED=${SHARED:-../shared}
OUT=${OUT:-runs/darkness_sweep_exdark}
ENHANCE=${ENHANCE:-none,gamma,clahe,zerodce++,zerodce++-det}
RESULTS=${RESULTS:-benchmarks/results/darkness_sweep_exdark}
python -m lowlight_det.eval --data "$SHARED/data/exdark-mini" --split test \
    --weights "$SHARED/models/yolo11n-coco.pt" --enhance "$ENHANCE" --darken-ev 0,1,2,3,4,5,6 \
    --imgsz 640 --batch-size 8 --gallery 0 --delta-ci 200 --out "$OUT" --resume "$@"
mkdir -p "$RESULTS"
# numbers only: no picture derived from ExDark is committed (its terms; the plots stay in $OUT)
cp "$OUT/metrics.json" "$OUT/report.md" "$RESULTS/"
