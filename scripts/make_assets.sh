#!/usr/bin/env bash
# Rebuild the shipped models and example images in assets/ (about 10 minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m classifier train --dataset fashion_mnist --model mlp --out assets/models/fashion_mlp
# ours, trained longer than its default 8 epochs, on each image and its mirror (garments are flip-safe)
python -m classifier train --dataset fashion_mnist --model cnn_bn --epochs 15 --flip --out assets/models/fashion_cnn_bn
# 4,000 digits offline: small batches, so 10 epochs are 630 steps (issue 13 replaces this model)
python -m classifier train --dataset mnist --model cnn --epochs 10 --batch-size 64 --lr 0.001 --out assets/models/mnist_cnn
python scripts/export_examples.py
