#!/usr/bin/env bash
# Train the shipped Zero-DCE / Zero-DCE++ weights with lowlight_det's own code on SICE Part 1 and export them.
# CPU budget: 128x128 training resolution (4x cheaper than the paper's 256), one thread per model.
#
# zerodce.sice (session 5): 12 epochs with a seeded 200-image hold-out and every epoch kept; the epoch is chosen
# by benchmarks/select_epoch.py (highest PSNR against the authors' model on the held-out low-light images; the
# authors' checkpoint is used at run time only, never shipped). zerodce++.sice: 3 epochs, no hold-out (older run).
set -euo pipefail
export LOWLIGHT_DET_DATA=${LOWLIGHT_DET_DATA:-../shared/data}
PARITY=${PARITY:-../shared/data/zerodce-parity}
python -m lowlight_det.train -q --config zerodce_sice --imgsz 128 --epochs "${EPOCHS:-12}" --threads 1 \
    --holdout 200 --keep-epochs --out runs/select_zerodce128
python benchmarks/select_epoch.py --run runs/select_zerodce128 --official "$PARITY/zerodce_official_Epoch99.pth" \
    --out benchmarks/results/select_zerodce128_epochs.json
python - <<'PY'
import json
from lowlight_det.enhancers.weights import export_weights
chosen = json.load(open("benchmarks/results/select_zerodce128_epochs.json"))["chosen"]["file"]
print(export_weights(chosen, "lowlight_det/weights", tag="sice"))
PY
echo "now put the printed file's sha256 into lowlight_det/enhancers/shipped.py"
