#!/usr/bin/env bash
# Rebuild the shipped models and example images in assets/ (about 10 minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m classifier train --dataset fashion_mnist --model mlp --out assets/models/fashion_mlp
python -m classifier train --dataset fashion_mnist --model cnn_bn --out assets/models/fashion_cnn_bn
python -m classifier train --dataset mnist --model cnn --epochs 10 --out assets/models/mnist_cnn
python scripts/export_examples.py
