"""Weights trained by lowlight_det itself and shipped in ``lowlight_det/weights/`` (MIT, like the code).

Made by ``benchmarks/train_shipped_weights.sh``: zero-reference training with ``python -m lowlight_det.train``
on SICE Part 1 (2,002 images), paper recipe except the training resolution (128x128 instead of 256x256, a
4x cheaper CPU budget). Each file's ``meta`` holds the resolved config, versions, git commit and losses.
"""

from __future__ import annotations

from lowlight_det.enhancers.weights import WeightsSpec, register_weights

_LICENSE = "MIT (trained by lowlight_det's own code on SICE Part 1)"

register_weights(WeightsSpec(
    name="zerodce.sice", arch="zerodce", filename="zerodce-sice-5b62637f.pt",
    sha256="5b62637fe8db51cb60400577c556591813df0b1f2ff73a399795c50558012ce3",
    arch_kwargs={"width": 32, "n_iter": 8},
    meta={"num_params": 79416, "source": "lowlight_det zero-reference training, configs/zerodce_sice.yaml",
          "license": _LICENSE, "recipe": "SICE Part 1, 128x128, batch 8, Adam 1e-4, wd 1e-4, clip 0.1, 7 epochs (1,757 steps)",
          "dataset": "sice_part1"}), default=True)
register_weights(WeightsSpec(
    name="zerodce++.sice", arch="zerodce++", filename="zerodce++-sice-3fa26231.pt",
    sha256="3fa26231b14577c4f87584c5eddfa7e9a90db2454be05b9f926b6fd6cfd12aa5",
    arch_kwargs={"width": 32, "n_iter": 8},
    meta={"num_params": 10561, "source": "lowlight_det zero-reference training, configs/zerodcepp_sice.yaml",
          "license": _LICENSE, "trained_scale_factor": 1,
          "recipe": "SICE Part 1, 128x128, batch 8, Adam 1e-4, wd 1e-4, clip 0.1, TV 1600, scale_factor 1, "
                    "3 epochs (753 steps)",
          "dataset": "sice_part1"}), default=True)

register_weights(WeightsSpec(
    name="zerodce.det-yolo11n", arch="zerodce", filename="zerodce-det-yolo11n-82fed7b5.pt",
    sha256="82fed7b5bb8be4958e3fff49f9e8506309a538368dc5a0c21cf5dfcec0bd2b07",
    arch_kwargs={"width": 32, "n_iter": 8},
    meta={"num_params": 79416, "license": _LICENSE.replace("on SICE Part 1", "on ExDark train images"),
          "source": "python -m lowlight_det.finetune (benchmarks/finetune_exdark.py tune, seed 0), from zerodce.sice",
          "tuned_for": "COCO-pretrained YOLO11n (frozen), zero-shot on ExDark's 12 classes (COCO class map)",
          "tuned_on": "ExDark official train split, 1,200-image sample (960 tuning / 240 held out, seed 0)",
          "recipe": "640 px letterbox, batch 16, Adam 1e-4, loss = detection + zero-reference, fp16 autocast, "
                    "5 epochs (time-limited), best hold-out val mAP50 at epoch 4",
          "dataset": "exdark (train split)"}))
