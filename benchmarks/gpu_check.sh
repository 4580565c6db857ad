#!/usr/bin/env bash
# The prepared GPU checks (issues 4 and 7), for a lent CUDA machine with PyTorch but no internet.
#
#   bash benchmarks/gpu_check.sh tune     # detection-aware fine-tuning: 2 enhancers x 3 seeds, in parallel
#   bash benchmarks/gpu_check.sh report   # test-split table of the tuned runs + GPU speed benchmarks
#   ADAPTIVE=1 TAG=gate SKIP_PIPE=1 SKIP_BENCH=1 bash benchmarks/gpu_check.sh tune report   # both, in one call
#   bash benchmarks/gpu_check.sh detector darkend   # issue 15's 12 detector runs and issue 12's dark-end recipe at
#                                                   # full size (3 seeds), all at once (session 11)
#   (issue 15's detectors come back as <arm>.tgz: evaluate them here with finetune_detector_exdark.py report)
#   DET_ARMS="det-none joint" DET_EPOCHS=30 TRAIN_LIMIT=540 bash benchmarks/gpu_check.sh detector   # issue 15's
#     30 epochs for two arms; runs cut by TRAIN_LIMIT resume from their last.pt when the same command runs
#     again on the still-warm machine (finetune_detector_exdark.py train skips finished runs)
#
# Expects, under .gpu/ (see benchmarks/README.md, "GPU checks"): exdark-train/ (a copy of
# exdark-train-mini), exdark-test/ (benchmarks/pack_exdark.py of exdark-mini --split test --max-side 640),
# sice/ (a few SICE images; replicated to 2,002 files for the epoch timing), yolo11n-coco-unfused.pt,
# and the wheels that machine lacks in .whl/ (ultralytics, ultralytics-thop, pycocotools).
# Results go to $OUT (default runs/gpu_out) as tar files, written after every step.
set -uo pipefail
STEPS="${*:?tune, report, detector and/or darkend}"
OUT=${OUT:-runs/gpu_out}
G=.gpu
DET=$G/yolo11n-coco-unfused.pt
R=runs/gpu_results
mkdir -p "$OUT" "$R"
export PYTHONUNBUFFERED=1 YOLO_OFFLINE=1 YOLO_CONFIG_DIR=/tmp/ycfg MPLCONFIGDIR=/tmp/mpl TQDM_DISABLE=1
if [ -d .whl ] && ! python3 -c "import ultralytics, pycocotools" 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site:$PWD
else
  export PYTHONPATH=$PWD
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python3 -c "import torch, ultralytics, pycocotools, lowlight_det; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'ultralytics', ultralytics.__version__)" || exit 3
pack() { tar cf "$OUT/$1.tar" "${@:2}" 2>/dev/null; echo "[packed $1]"; }
has() { [[ " $STEPS " == *" $1 "* ]]; }

# Issue 12 at full size: the shipped dark-end recipe (finetune_zerodcepp_yolo11n_dark) on all 1,200 train-mini images
# (960 tuned, 240 held out) for DARK_EPOCHS epochs, 3 seeds, in the background next to issue 15's runs.
# The frozen detector is the BatchNorm copy (in eval mode the same function as the fused file).
if has darkend; then
  for s in ${DARK_SEEDS:-0 1 2}; do
    mkdir -p runs/dark_gpu_s$s
    timeout ${TRAIN_LIMIT:-360} python3 -m lowlight_det.finetune --config finetune_zerodcepp_yolo11n_dark --detector $DET \
      --data $G/exdark-train --limit ${DARK_LIMIT:-1200} --epochs ${DARK_EPOCHS:-6} --patience ${DARK_EPOCHS:-6} --seed $s \
      --device ${DEVICE:-cuda} --workers 2 --threads 1 --out runs/dark_gpu_s$s -q >runs/dark_gpu_s$s/stdout.log 2>&1 &
  done
fi
# Issue 15: the four arms x 3 seeds at 640 px on all 1,200 train-mini images (20% held out), all at once.
if has detector; then
  timeout ${TRAIN_LIMIT:-360} python3 benchmarks/finetune_detector_exdark.py train --data $G/exdark-train --detector $DET \
    --seeds ${DET_SEEDS:-0 1 2} --epochs ${DET_EPOCHS:-10} --patience ${DET_EPOCHS:-10} --imgsz 640 --batch-size 16 --workers 2 \
    --threads 1 --device ${DEVICE:-cuda} --jobs ${DET_JOBS:-12} ${LIMIT:+--limit $LIMIT} ${DET_ARMS:+--arms $DET_ARMS} \
    --out runs/det_exdark
fi
if has detector || has darkend; then
  wait
  pkill -f "lowlight_det.finetune" && sleep 3  # runs cut by the time limit: their best.pt so far stays
  for f in runs/det_exdark/*/ runs/dark_gpu_s*/; do echo "== $f"; tail -n 2 "$f/stdout.log"; cat "$f/log.csv" 2>/dev/null; done
  has detector && pack runs15 runs/det_exdark/*/{config.yaml,history.json,holdout.json,log.csv,stdout.log,enhancer_best.pt}
  has darkend && pack runs12 runs/dark_gpu_s*/{best.pt,config.yaml,history.json,holdout.json,log.csv,stdout.log}
  for arm in det-none det-zerodcepp det-zerodcepp-det joint; do  # finished runs' detectors (~5 MB each) to evaluate
    has detector && tar czf "$OUT/$arm.tgz" runs/det_exdark/$arm-seed*/detector/weights/best.pt && echo "[packed $arm]"
  done
fi

TL=${TIME_LIMIT:-200}
if has report && [ ! -d runs/ft ] && [ -f $G/tune.tar ]; then tar xf $G/tune.tar; fi  # fresh machine
if has tune; then
  timeout $((TL + 40)) python3 benchmarks/finetune_exdark.py tune --data $G/exdark-train --detector $DET \
    --enhancers ${ENHANCERS:-zerodce++ zerodce} --seeds ${SEEDS:-0 1 2} --epochs ${EPOCHS:-10} --imgsz ${IMGSZ:-640} \
    --batch-size 16 --jobs 6 --workers 3 --device ${DEVICE:-cuda} --time-limit $TL \
    ${ADAPTIVE:+--adaptive} ${GATE_LR:+--gate-lr $GATE_LR} ${PATIENCE:+--patience $PATIENCE} ${TAG:+--tag $TAG} ${LIMIT:+--limit $LIMIT} --out runs/ft
  for f in runs/ft/*/; do echo "== $f"; tail -n 3 "$f/stdout.log"; cat "$f/log.csv" 2>/dev/null; done
  pack tune runs/ft/*/best.pt runs/ft/*/history.json runs/ft/*/config.yaml runs/ft/*/log.csv runs/ft/*/stdout.log
fi
if has report; then
  mkdir -p $R/finetune_exdark
  [ -z "${FRESH:-}" ] && cp -rn benchmarks/results/finetune_exdark/baselines $R/finetune_exdark/  # reused
  timeout ${REPORT_TIMEOUT:-150} python3 benchmarks/finetune_exdark.py report --data $G/exdark-test --detector $DET \
    --runs runs/ft --device ${DEVICE:-cuda} --batch-size 32 --workers 8 ${LIMIT:+--limit $LIMIT} --out $R/finetune_exdark
  pack report $R/finetune_exdark.json $R/finetune_exdark.md $R/finetune_exdark/*/metrics.json
  tar czf "$OUT/predictions.tgz" $R/finetune_exdark/*/predictions_*.json && echo "[packed predictions]"  # for intervals
  [ -n "${SKIP_PIPE:-}" ] && exit 0
  timeout ${PIPE_TIMEOUT:-90} python3 benchmarks/bench_pipeline.py --data $G/exdark-test --split test --weights $DET \
    --enhance none zerodce++ zerodce --batch-size 32 --workers 8 --device ${DEVICE:-cuda} ${LIMIT:+--limit $LIMIT} \
    --label gpu --out $R
  pack pipeline $R/pipeline_gpu.*
  [ -n "${SKIP_BENCH:-}" ] && exit 0
  mkdir -p /tmp/sice2002 && python3 -c "import os, shutil; fs = sorted(os.listdir('$G/sice'))
for i in range(2002): shutil.copy(f'$G/sice/{fs[i % len(fs)]}', f'/tmp/sice2002/{i}.jpg')"
  for e in zerodce zerodce++; do
    timeout 35 python3 -m lowlight_det.train --enhancer $e --data /tmp/sice2002 --epochs 1 --batch-size 8 \
      --imgsz 256 --workers 8 --device ${DEVICE:-cuda} --out /tmp/sice_$e -q && \
      cp /tmp/sice_$e/log.csv $R/sice_epoch_$e.csv && cat $R/sice_epoch_$e.csv
  done
  pack bench $R/*.json $R/*.md $R/*.csv
  timeout 150 python3 benchmarks/bench_enhancers.py --device ${DEVICE:-cuda} \
    --sizes ${SIZES:-256x256 640x640 1280x720 1920x1080} --batches 1 8 --modes default fp16 bf16 fp16-cl \
    --throughput ${THROUGHPUT:-zerodce:640x480:128 zerodce++:1200x900:64} --min-run-time 0.3 --label gpu --out $R
  pack bench $R/*.json $R/*.md $R/*.csv
fi
