#!/usr/bin/env bash
# Rebuild the shipped models and example images in assets/ (about 10 minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m classifier train --dataset fashion_mnist --model mlp --out assets/models/fashion_mlp
# ours, trained longer than its default 8 epochs, on each image and its mirror (garments are flip-safe)
python -m classifier train --dataset fashion_mnist --model cnn_bn --epochs 15 --flip --out assets/models/fashion_cnn_bn
# 4,000 digits offline: our CNN on randomly rotated, scaled, sheared, moved, thickened and
# thinned digits (augment.py "digits"), small batches: 60 epochs are 3,420 steps, about 2 minutes
python -m classifier train --dataset mnist --model cnn_bn --augment digits --epochs 60 --batch-size 64 --out assets/models/mnist_cnn
# when each should say "I am not sure" (its validation images; classifier/calibration.py)
for m in fashion_mlp fashion_cnn_bn mnist_cnn; do python -m classifier calibrate --model assets/models/$m; done
python scripts/export_examples.py
