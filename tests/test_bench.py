"""The benchmark code itself runs, on its tiny setting, and prints its tables."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_benchmarks_run_quick():
    env = {**os.environ, "CLASSIFIER_OFFLINE": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run([sys.executable, "benchmarks/bench.py", "all", "--quick"], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    for title in ("Time to 0.75 test accuracy", "Live-curve callback overhead",
                  "Every model on Fashion-MNIST", "Server-side prediction",
                  "The running app", "Resident memory", "Seconds of training to each test accuracy"):
        assert f"### {title}" in out.stdout
    assert "| cnn_bn | 83,434 | 1 |" in out.stdout
    assert "| cnn_quick (default) |" in out.stdout and "| MLP recipe (5 epochs) |" in out.stdout
    assert "per-class scoring each epoch" in out.stdout
    assert "overhead: " in out.stdout and "growth from the first to the last" in out.stdout
    assert "/predict over plain HTTP p50, ms" in out.stdout


def test_transfer_benchmark_runs_quick():
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run([sys.executable, "benchmarks/bench_transfer.py", "--quick"], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "ratio" in out.stdout and "| tutorial |" in out.stdout
