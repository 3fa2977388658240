"""A throw-away Ray cluster on this machine, for the tests and the benchmarks: `local_cluster`.

A head node and `nodes - 1` more on 127.0.0.1, `cpus` CPUs each, a small object store, no
dashboard, and token authentication with a fresh token (Ray swaps 127.0.0.1 for the machine's
address and listens on every interface, so without a token anyone on the network could submit
code). `ray stop --force` afterwards, whatever happened, and any process of ours it missed is
killed. Started with the `ray` command beside this Python, as a user would. No Gradio here.
"""
from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator


@dataclass(frozen=True)
class LocalCluster:
    address: str  # HOST:PORT, what RAY_ADDRESS takes
    env: dict = field(repr=False)  # what a driver's environment needs to connect (the token)


def ray_command() -> str:
    beside = Path(sys.executable).with_name("ray")  # the ray of this Python, not another one
    return str(beside) if beside.exists() else shutil.which("ray") or "ray"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ours(temp_dir: str) -> list[int]:
    """The pids of this cluster's processes (each names its session folder, under our temp
    dir)."""
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            if temp_dir.encode() in cmdline.read_bytes():
                pids.append(int(cmdline.parent.name))
    return pids


@contextlib.contextmanager
def local_cluster(nodes: int = 2, cpus: int = 1,
                  object_store_bytes: int = 100_000_000) -> Iterator[LocalCluster]:
    """Start the cluster, yield its address and token, stop it. A driver in this process must
    have `cluster.env` in `os.environ` before `ray.init` (the caller sets and restores it)."""
    if nodes < 1 or cpus < 1:
        raise ValueError(f"need at least one node and one CPU, got {nodes} and {cpus}")
    port = free_port()
    address = f"127.0.0.1:{port}"
    temp_dir = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # short: Ray's socket paths are limited
    auth = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16)}
    env = {**os.environ, **auth, "RAY_USAGE_STATS_ENABLED": "0"}
    node = ["--node-ip-address=127.0.0.1", f"--num-cpus={cpus}",
            f"--object-store-memory={object_store_bytes}", "--disable-usage-stats",
            "--min-worker-port=0", "--max-worker-port=0", "--dashboard-agent-listen-port=0",
            "--metrics-export-port=0", "--log-style=record"]
    ray = ray_command()
    head = [ray, "start", "--head", f"--port={port}", f"--temp-dir={temp_dir}",
            "--include-dashboard=false", f"--dashboard-port={free_port()}",
            f"--ray-client-server-port={free_port()}", *node]
    more = [ray, "start", f"--address={address}", "--node-manager-port=0",
            "--include-log-monitor=false", *node]  # (the options of Ray's cluster_utils)
    try:
        for args in [head] + [more] * (nodes - 1):
            started = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
            if started.returncode != 0:
                raise RuntimeError(f"`ray start` failed:\n{started.stdout}{started.stderr}")
        yield LocalCluster(address, auth)
    finally:  # each step even if the one before failed (or was interrupted)
        try:
            if "ray" in sys.modules:
                import ray as ray_api
                if ray_api.is_initialized():  # a driver still connected would report the end
                    ray_api.shutdown()
        finally:
            try:
                subprocess.run([ray, "stop", "--force"], env=env, capture_output=True, timeout=120)
            finally:
                for pid in _ours(temp_dir):  # anything `ray stop` did not know to look for
                    with contextlib.suppress(OSError):
                        os.kill(pid, signal.SIGKILL)
                shutil.rmtree(temp_dir, ignore_errors=True)
