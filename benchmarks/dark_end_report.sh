#!/usr/bin/env bash
# The dark-end table of issue 12 (README, "The dark end") from every variant's result folders: the exact call that
# regenerates benchmarks/results/dark_end_cpu/{dark_end.md,dark_end.json,map50_by_darkness.png}.
# Each variant's folders come from benchmarks/dark_end_cpu.sh NAME [flags] (one per seed; see the README row).
set -euo pipefail
python benchmarks/dark_end_report.py \
  --variant "random cameras + denoising + blur penalty 0.3 (zerodce++.det-yolo11n-dnb, zerodce++-det in sessions 9-14)=dark_blurpen03_cpu,dark_blurpen03_cpu_s1,dark_blurpen03_cpu_s2" \
  --variant "random cameras + denoising (zerodce++.det-yolo11n-dn, zerodce++-det in sessions 6-8)=dark_denoise_cpu,dark_denoise_cpu_s1,dark_denoise_cpu_s2" \
  --variant "blur penalty 0.3, all 1,200 tuning images (--limit 1200)=dark_blurpen03_all_cpu,dark_blurpen03_all_cpu_s1,dark_blurpen03_all_cpu_s2" \
  --variant "blur penalty 0.3, all 1,200 tuning images, 6 epochs on a GPU (session 11)=dark_gpu,dark_gpu_s1,dark_gpu_s2" \
  --variant "label-free: the teacher on SICE, no ExDark label in tuning (session 11)=dark_teacher_sice_cpu,dark_teacher_sice_cpu_s1,dark_teacher_sice_cpu_s2" \
  --variant "label-free, no label at all: the teacher on SICE, epoch picked on SICE labelled by the detector itself (session 12)=dark_selflabel_sice_cpu,dark_selflabel_sice_cpu_s1,dark_selflabel_sice_cpu_s2" \
  --variant "two-scale denoising (--denoise-scales 2) + blur penalty 0.3=dark_twoscale_cpu,dark_twoscale_cpu_s1,dark_twoscale_cpu_s2" \
  --variant "strength penalty 0.3 (--w-strength 0.3) + blur penalty 0.3=dark_strengthpen03_cpu,dark_strengthpen03_cpu_s1,dark_strengthpen03_cpu_s2" \
  --variant "random cameras + denoising + blur penalty 1=dark_blurpen_cpu,dark_blurpen_cpu_s1,dark_blurpen_cpu_s2" \
  --variant "spatial strength + random cameras + denoising=dark_spatial_cpu,dark_spatial_cpu_s1,dark_spatial_cpu_s2" \
  --variant "only the class map's classes scored (--loss-classes labelled), otherwise the shipped recipe (session 14)=dark_labelcls_cpu,dark_labelcls_cpu_s1,dark_labelcls_cpu_s2" \
  --variant "+ the label-free teacher on the same ExDark images (--teacher 1; zerodce++.det-yolo11n-dnbt, zerodce++-det since session 15)=dark_teacher_exdark_cpu,dark_teacher_exdark_cpu_s1,dark_teacher_exdark_cpu_s2" \
  --variant "zerodce++.det-yolo11n-dnbt seeds 1-2 re-tuned in session 16 (their first weights lost; the sweep has the rest)=dark_teacher_exdark_cpu_s1/retuned_session16,dark_teacher_exdark_cpu_s2/retuned_session16" \
  --variant "a quarter of each batch darkened (--darken-share 0.25), otherwise the shipped recipe (session 13)=dark_share025_cpu" \
  --variant "random cameras, no denoising=dark_rand_cpu,dark_rand_cpu_s1" --variant "fixed sensor, darkening only=darken_only_cpu" \
  --sweep "zerodce++-det (-dnbt)=sweep_teacher_exdark,sweep_teacher_exdark_s1,sweep_teacher_exdark_s2" \
  --sweep "zerodce++.det-yolo11n-dnb=sweep_blurpen03,sweep_blurpen03_s1,sweep_blurpen03_s2" \
  --out benchmarks/results/dark_end_cpu
