"""Trainings in local worker processes: the app's default trainer, with no set-up.

One worker process a slot, started with `spawn` (a fork of a process with TensorFlow loaded can
deadlock), at a lower CPU priority than the web server (so predictions go first), with
TensorFlow's thread pools sized to its share of the cores. It imports TensorFlow and loads
Fashion-MNIST once, then runs trainings one after another (warm), and retires after
`recycle_after` trainings or above `memory_mb` of resident memory; a fresh one takes its place
at once. The server keeps no TensorFlow training state, so its memory stays flat.

A worker killed mid-run (out of memory, `kill -9`) or silent for `hang_seconds` (it sends a
heartbeat every second while alive) costs its user that run (`TrainingLost`, a plain message)
and nothing else: the slot gets a fresh worker. No Gradio here.
"""
from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import sys
import threading
import time
from typing import Callable, Iterator

from .base import OUTCOMES, relay
from .jobs import CallerGone, Job, Record, TrainingLost, where

RUN, STOP, CANCEL = 0, 1, 2  # a worker's control value: go on, stop (keep the run), drop it
HEARTBEAT_SECONDS = 1.0


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return 0.0


class _Control:
    """The worker side of the stop switch: `is_set` is the training's StopFlag."""

    def __init__(self, value):
        self.value = value

    def is_set(self) -> bool:
        if self.value.value == CANCEL:
            raise CallerGone()
        return self.value.value == STOP


def _worker_main(conn, control, threads: int, nice: int, recycle_after: int,
                 memory_mb: float) -> None:
    """A worker process: warm up, then run jobs from `conn` until told to quit or retiring."""
    try:
        os.nice(nice)
    except (AttributeError, OSError):
        pass
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    from ..core.memory import release_memory
    from ..core.settings import TrainSettings
    from ..data.datasets import load_fashion_mnist
    from .jobs import execute
    warm_up = Job(load_fashion_mnist().subset(64, 32), "mlp", TrainSettings(epochs=1, batch_size=32))
    execute(warm_up, None, None)  # Keras' first fit, evaluation and save cost seconds: not a user's
    release_memory()
    send_lock = threading.Lock()
    running = threading.Event()  # a job is running: heartbeats go out

    def send(message) -> None:
        with send_lock:
            conn.send(message)

    def heartbeat() -> None:
        while True:
            time.sleep(HEARTBEAT_SECONDS)
            with send_lock:
                if running.is_set():
                    try:
                        conn.send(("alive",))
                    except (OSError, ValueError):
                        return

    threading.Thread(target=heartbeat, name="heartbeat", daemon=True).start()
    send(("ready", where()))
    for done in range(1, recycle_after + 1):
        try:
            message = conn.recv()
        except EOFError:
            return
        if message[0] != "job":
            return
        control.value = RUN
        running.set()
        try:
            outcome = ("done", execute(message[1], lambda point: send(("point", point)),
                                       _Control(control)))
        except CallerGone:
            outcome = ("gone", None)
        except ValueError as exc:
            outcome = ("refused", str(exc))
        except Exception as exc:  # noqa: BLE001 - the server says what failed, and carries on
            outcome = ("failed", f"{type(exc).__name__}: {exc}")
        release_memory()
        retiring = done == recycle_after or _rss_mb() > memory_mb
        with send_lock:  # the job's last word, and whether this worker retires after it
            running.clear()
            conn.send((*outcome, retiring))
        if retiring:
            return


class Worker:
    """The server's handle on one worker process."""

    def __init__(self, ctx, threads: int, nice: int, recycle_after: int, memory_mb: float):
        self.conn, child = ctx.Pipe()
        self.control = ctx.Value("i", RUN, lock=False)
        self.process = ctx.Process(target=_worker_main, name="classifier-worker", daemon=True,
                                   args=(child, self.control, threads, nice, recycle_after,
                                         memory_mb))
        with _main_module_hidden():
            self.process.start()
        child.close()
        self.info: dict = {}
        self.retired = False

    def wait_ready(self, timeout: float) -> bool:
        """Block until the worker has warmed up (True) or died or timed out (False)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end and self.process.is_alive():
            if self.conn.poll(0.2):
                try:
                    message = self.conn.recv()
                except (EOFError, OSError):
                    return False
                if message[0] == "ready":
                    self.info = message[1]
                    return True
        return False

    def end(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()


class ProcessTrainer:
    """`slots` trainings at a time, each in its own warm worker process."""

    name = "local worker processes"

    def __init__(self, slots: int = 2, threads: int | None = None, nice: int = 5,
                 recycle_after: int = 20, memory_mb: float = 3000.0,
                 hang_seconds: float = 60.0, start_seconds: float = 120.0):
        if slots < 1:
            raise ValueError(f"need at least one slot, got {slots}")
        self.slots = slots
        self.threads = threads or max(1, _cpu_count() // slots)
        self.nice, self.recycle_after, self.memory_mb = nice, recycle_after, memory_mb
        self.hang_seconds, self.start_seconds = hang_seconds, start_seconds
        self._ctx = multiprocessing.get_context("spawn")
        self._idle: queue.Queue[Worker] = queue.Queue()
        self._lock = threading.Lock()
        self._started = False
        self.workers_started = 0
        self.running = 0  # jobs whose worker is busy with them
        self.busy: set[Worker] = set()

    def start(self) -> "ProcessTrainer":
        """Start the workers now (else on the first training), warming in the background."""
        with self._lock:
            if not self._started:
                self._started = True
                for _ in range(self.slots):
                    self._spawn()
        return self

    def _spawn(self) -> None:
        """Add a fresh worker to the idle ones, warming it up on a thread of its own."""
        self.workers_started += 1
        worker = Worker(self._ctx, self.threads, self.nice, self.recycle_after, self.memory_mb)

        def warm() -> None:
            if worker.wait_ready(self.start_seconds):
                self._idle.put(worker)
            else:  # it could not start: try once more later, when a training asks
                worker.end()
                self._idle.put(None)

        threading.Thread(target=warm, name="worker-warm-up", daemon=True).start()

    def _take(self) -> Worker:
        self.start()
        while True:
            worker = self._idle.get(timeout=self.start_seconds + 10)
            if worker is None:
                self._spawn()
                continue
            if worker.process.is_alive():
                return worker
            worker.end()  # died while idle: replace it
            self._spawn()

    def busy_pids(self) -> list[int]:
        """The process ids of the workers running a training now."""
        with self._lock:
            return [w.process.pid for w in self.busy]

    def close(self) -> None:
        """End the idle workers (busy ones end as their trainings do); the next training
        starts fresh ones."""
        with self._lock:
            self._started = False
        while True:
            try:
                worker = self._idle.get_nowait()
            except queue.Empty:
                return
            if worker is not None:
                worker.end()

    def stream(self, job: Job, stop: threading.Event, gone: Callable[[], bool] | None = None,
               done: Callable[[], object] | None = None, every: float = 0.25,
               patience: float = 15.0) -> Iterator[list[dict] | Record]:
        """Run `job` in a worker: yield lists of new points at most every `every` s, then its
        `Record`. `stop` set: the run ends after its current step, evaluated and kept; `gone()`
        true or the iterator closed: it is dropped (CallerGone); nobody pulling for `patience`
        s: stopped. `done()` is called as soon as the worker is free."""
        worker = self._take()
        with self._lock:
            self.running += 1
            self.busy.add(worker)
        inbox: queue.Queue = queue.Queue()
        last_pull = [time.monotonic()]
        watcher = threading.Thread(target=self._watch, name="training-watch", daemon=True,
                                   args=(worker, job, inbox, stop, gone, done, last_pull,
                                         patience))
        watcher.start()
        ended = False
        try:
            for item in relay(inbox, last_pull, every):
                if not isinstance(item, list):
                    ended = True  # before anything else: the worker may already serve another
                    if isinstance(item, BaseException):
                        raise item
                yield item
        finally:
            if not ended:
                worker.control.value = CANCEL  # the consumer went away: drop the run

    def _watch(self, worker: Worker, job: Job, inbox: queue.Queue, stop: threading.Event,
               gone, done, last_pull: list, patience: float) -> None:
        """The job's supervisor (it runs whether or not anyone pulls): passes messages on,
        turns stop, a caller gone or nobody pulling into the worker's control value, and ends a
        worker that died or went silent."""
        healthy = retiring = False
        final: object = TrainingLost("it ended without a word")
        try:
            worker.conn.send(("job", job))
            heard = time.monotonic()
            while True:
                if gone is not None and gone():
                    worker.control.value = CANCEL
                elif stop.is_set() or time.monotonic() - last_pull[0] > patience:
                    worker.control.value = max(worker.control.value, STOP)
                if not worker.conn.poll(0.1):
                    silent = time.monotonic() - heard
                    if not worker.process.is_alive():
                        raise TrainingLost(_exit_reason(worker.process.exitcode))
                    if silent > self.hang_seconds:
                        raise TrainingLost(f"it stopped responding for {silent:.0f} s and was "
                                           "ended")
                    continue
                try:
                    message = worker.conn.recv()
                except (EOFError, OSError):
                    worker.process.join(timeout=2)
                    raise TrainingLost(_exit_reason(worker.process.exitcode)) from None
                heard = time.monotonic()
                kind = message[0]
                if kind == "point":
                    inbox.put(message[1])
                elif kind in OUTCOMES:  # else a heartbeat
                    healthy, retiring = True, message[2]
                    final = OUTCOMES[kind](message[1])
                    return
        except TrainingLost as lost:
            final = lost
        except (OSError, ValueError) as exc:  # the pipe broke while sending the job
            final = TrainingLost(f"its pipe broke: {exc}")
        finally:  # the slot is free before the caller hears how the run ended
            if not self._started:  # closed meanwhile
                worker.end()
            elif healthy and not retiring and worker.process.is_alive():
                self._idle.put(worker)
            else:  # dead, silent or retiring: a fresh one takes its place
                worker.end()
                self._spawn()
            with self._lock:
                self.running -= 1
                self.busy.discard(worker)
            if done is not None:
                done()
            inbox.put(final)


@contextlib.contextmanager
def _main_module_hidden():
    """`spawn` runs the parent's main script again in the child (as `__mp_main__`) unless it
    cannot find it: the app's script builds the whole page at import, which a worker does not
    need (and which would start workers of its own). Hide it while the worker starts."""
    main = sys.modules.get("__main__")
    saved = {k: main.__dict__.pop(k) for k in ("__file__",) if main and k in main.__dict__}
    spec = getattr(main, "__spec__", None)
    if main is not None:
        main.__spec__ = None
    try:
        yield
    finally:
        if main is not None:
            main.__dict__.update(saved)
            main.__spec__ = spec


def _exit_reason(code: int | None) -> str:
    import signal
    if code is None:
        return "it vanished"
    if code < 0:
        name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else code
        return f"it was killed by {name}" + (", perhaps out of memory" if name == "SIGKILL" else "")
    return f"it exited with code {code}"
