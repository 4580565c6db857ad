#!/usr/bin/env bash
# Issue 15 at CPU scale: the four arms of benchmarks/finetune_detector_exdark.py (detector alone, behind frozen
# zerodce++, behind frozen zerodce++-det, joint) over three seeds, reduced to what 2 CPU cores do in about 1.5 h:
# 600 images of exdark-train-mini per seed (a seeded stratified sample; 480 train / 120 hold-out), 320 px,
# 6 epochs, batch 16; then every run on the 379 ExDark test images at 320 px (zero-shot none as the first row), with
# the epoch best on each run's hold-out (the rule) and, as a second reading, the last epoch.
# The full-size run (640 px, all 1,200 images, 30 epochs) is the GPU job in finetune_detector_exdark.py.
#
#   benchmarks/finetune_detector_cpu.sh            # SHARED=../shared by default
#
# Runs stay under runs/det_exdark_cpu; only the report (numbers) goes to benchmarks/results/.
set -euo pipefail
SHARED=${SHARED:-../shared}
RUNS=runs/det_exdark_cpu
python benchmarks/finetune_detector_exdark.py train --data "$SHARED/data/exdark-train-mini" \
    --detector "$SHARED/models/yolo11n-coco-unfused.pt" --seeds 0 1 2 --epochs 6 --patience 6 --limit 600 \
    --imgsz 320 --batch-size 16 --workers 2 --threads 2 --device cpu --out "$RUNS"
for checkpoint in best last; do  # results/finetune_detector_cpu.{json,md} and finetune_detector_cpu_last.{json,md}
  suffix=$([ "$checkpoint" = last ] && echo _last || true)
  python benchmarks/finetune_detector_exdark.py report --data "$SHARED/data/exdark-mini" \
      --zero-shot "$SHARED/models/yolo11n-coco.pt" --runs "$RUNS" --eval-out "$RUNS/eval" --imgsz 320 --device cpu \
      --checkpoint "$checkpoint" --out "benchmarks/results/finetune_detector_cpu$suffix"
done
mkdir -p benchmarks/results/finetune_detector_cpu_runs
for run in "$RUNS"/*-seed*; do
  name=$(basename "$run")
  mkdir -p "benchmarks/results/finetune_detector_cpu_runs/$name"
  cp "$run/config.yaml" "$run/history.json" "$run/holdout.json" "benchmarks/results/finetune_detector_cpu_runs/$name/"
done
