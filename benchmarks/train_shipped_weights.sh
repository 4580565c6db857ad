#!/usr/bin/env bash
# Train the shipped Zero-DCE / Zero-DCE++ weights with lowlight_det's own code on SICE Part 1 and export them.
# CPU budget used for the shipped files: 128x128 training resolution (4x cheaper than the paper's 256),
# one thread per model, as many epochs as fitted in the session (see each file's meta["epoch"]).
set -euo pipefail
export LOWLIGHT_DET_DATA=${LOWLIGHT_DET_DATA:-../shared/data}
EPOCHS=${EPOCHS:-12}
python -m lowlight_det.train -q --config configs/zerodce_sice.yaml --imgsz 128 --epochs "$EPOCHS" --threads 1 --out runs/ship_zerodce &
python -m lowlight_det.train -q --config configs/zerodcepp_sice.yaml --imgsz 128 --epochs "$EPOCHS" --threads 1 --out runs/ship_zerodcepp &
wait
python - <<'PY'
from lowlight_det.enhancers.weights import export_weights
for run in ("runs/ship_zerodce/last.pt", "runs/ship_zerodcepp/last.pt"):
    print(export_weights(run, "lowlight_det/weights", tag="sice"))
PY
echo "now put the printed files' sha256 into lowlight_det/enhancers/shipped.py"
