"""Trainings as tasks on a Ray cluster: a classroom that outgrows one machine adds machines.

Chosen when `RAY_ADDRESS` is set (or `CLASSIFIER_TRAINER=ray`); this is the only module that
imports Ray. The app is a Ray *driver* on a cluster node (`ray start --address=...` on its
machine, then `RAY_ADDRESS=auto` or the head's address): Ray's streaming generators do not work
through Ray Client (`ray://`).

Each training is one task (`num_cpus=1`, a streaming generator): it runs `jobs.execute` on a
thread of its Ray worker and yields what happens as it happens: that it started (and where),
lists of metric points, that it saw a Stop, and last the outcome, the `Record` (the model as
`.keras` bytes) travelling home through Ray's object store. A worker imports TensorFlow once and
runs trainings one after another (warm; `start()` warms one per slot), with TensorFlow's thread
pools sized to the task's CPUs, and is recycled after `recycle_after` trainings.

Stop (the user's button) is a flag on a tiny actor that the task polls every quarter second: the
run ends after its current step, evaluated and kept. A task that has not seen the Stop within
`stop_grace` s of it (or of starting) is cancelled (`ray.cancel`), and one still waiting for a CPU
then is dropped with a word. A caller gone, or a closed stream, cancels the task at
once (`ray.cancel`: a KeyboardInterrupt in the task, which drops the run after its current step;
`force=True` after `cancel_grace` s). A worker or node that dies costs that run (`TrainingLost`,
with Ray's reason) and nothing else. No Gradio here.
"""
from __future__ import annotations

import os
import queue
import threading
import time
import uuid
from typing import Callable, Iterator

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from .base import OUTCOMES, drain, relay
from .jobs import CallerGone, Job, Record, TrainingLost, where

POLL_SECONDS = 0.25  # how often a task asks the stop board whether its run should stop
_READY = object()  # a training thread's last word in its task's queue

# ---- inside the Ray task (a worker process of the cluster) ----

_prepared: dict = {}  # this worker process, once: its priority and TensorFlow's threads


def _prepare(threads: int, nice: int) -> None:
    """Once per worker process: a lower CPU priority than the app (predictions first) and
    TensorFlow's thread pools sized to the task's CPUs (Ray sets OMP_NUM_THREADS, not TF's)."""
    if _prepared:
        return
    _prepared["threads"] = threads
    try:
        os.nice(nice)
    except (AttributeError, OSError):
        pass
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", str(threads))
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", str(threads))
    import tensorflow as tf
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # TensorFlow already ran in this process: its pools are set
        pass


class _TaskFlag:
    """The training's StopFlag inside the task: `stop` from the stop board (end after this
    step, keep the run), `cancel` from `ray.cancel` (drop it); `seen` once it has read a stop."""

    def __init__(self):
        self.stop, self.cancel, self.seen = threading.Event(), threading.Event(), threading.Event()

    def is_set(self) -> bool:
        if self.cancel.is_set():
            raise CallerGone()
        if self.stop.is_set():
            self.seen.set()
            return True
        return False


@ray.remote(num_cpus=0, max_restarts=0)
class _StopBoard:
    """Which runs were asked to stop: the driver marks them, their tasks poll."""

    def __init__(self):
        self.stopping: set[str] = set()

    def stop(self, key: str) -> None:
        self.stopping.add(key)

    def asked(self, key: str) -> bool:
        return key in self.stopping

    def forget(self, key: str) -> None:
        self.stopping.discard(key)


def _train_task(job: Job, board, key: str, threads: int, nice: int,
                join_seconds: float = 10.0):
    """The Ray task: ("started", where), lists of points, ("stopping",) once the training saw a
    Stop, then its outcome as a ProcessTrainer worker reports it (base.OUTCOMES)."""
    _prepare(threads, nice)
    from ..core.memory import release_memory
    from .jobs import execute
    info = {**where(), "node": ray.get_runtime_context().get_node_id()}
    yield ("started", info)
    points: queue.Queue = queue.Queue()
    flag = _TaskFlag()
    outcome: list = [("failed", "it ended without an outcome")]

    def work() -> None:
        try:
            outcome[0] = ("done", execute(job, points.put, flag, worker=info))
        except CallerGone:
            outcome[0] = ("gone", None)
        except ValueError as exc:  # the user's input: its message is for them
            outcome[0] = ("refused", str(exc))
        except Exception as exc:  # noqa: BLE001 - the app says what failed, and carries on
            outcome[0] = ("failed", f"{type(exc).__name__}: {exc}")
        finally:
            release_memory()
            points.put(_READY)

    thread = threading.Thread(target=work, name=f"train-{job.model_key}", daemon=True)
    thread.start()
    asking, next_ask, told = None, 0.0, False
    try:
        while True:
            items = drain(points, 0.1)
            gather = time.monotonic() + 0.1  # a fast run's points: about ten yields a second
            while items and _READY not in items and time.monotonic() < gather:
                items += drain(points, max(0.0, gather - time.monotonic()))
            batch = [p for p in items if p is not _READY]
            if batch:
                yield batch
            if flag.seen.is_set() and not told:
                told = True
                yield ("stopping",)
            if _READY in items:
                break
            if not flag.stop.is_set():  # ask the board, never waiting on it
                if asking is None and time.monotonic() >= next_ask:
                    asking = board.asked.remote(key)
                elif asking is not None and ray.wait([asking], timeout=0)[0]:
                    try:
                        if ray.get(asking):
                            flag.stop.set()
                    except ray.exceptions.RayError:  # no board: the driver cancels if need be
                        pass
                    asking, next_ask = None, time.monotonic() + POLL_SECONDS
        thread.join()
        yield outcome[0]
    except BaseException:  # ray.cancel (KeyboardInterrupt here) or the stream closed
        flag.cancel.set()  # the training drops out at its next step
        thread.join(join_seconds)
        if thread.is_alive():  # stuck in one step: end this worker rather than leave it busy
            os._exit(1)
        raise


def _warm_up(threads: int, nice: int) -> dict:
    """A fresh worker's first fit, evaluation and save cost seconds: pay them before a user's."""
    _prepare(threads, nice)
    from ..core.memory import release_memory
    from ..core.settings import TrainSettings
    from .jobs import execute
    try:
        from ..data.datasets import load_fashion_mnist
        data = load_fashion_mnist().subset(64, 32)  # also this node's copy of Fashion-MNIST
    except Exception:  # noqa: BLE001 - not on this node: warm up on made-up images
        import numpy as np

        from ..core.dataset import Dataset
        x, y = np.zeros((64, 28, 28, 1), np.uint8), np.arange(64) % 2
        data = Dataset("warm-up", "Warm-up", ["a", "b"], x, y, x[:32], y[:32])
    execute(Job(data, "mlp", TrainSettings(epochs=1, batch_size=32)), None, None)
    release_memory()
    return where()


# ---- beside the app (the Ray driver) ----

class RayTrainer:
    """Trainings as tasks on the Ray cluster at `address`; `slots`: how many run at once."""

    name = "a Ray cluster"

    def __init__(self, address: str = "auto", cpus: float = 1, nice: int = 5,
                 recycle_after: int = 20, stop_grace: float = 10.0, cancel_grace: float = 5.0):
        self._owns_ray = not ray.is_initialized()
        if self._owns_ray:  # this package travels with the job: nodes need only its requirements
            ray.init(address=address, log_to_driver=False, configure_logging=False,
                     runtime_env={"py_modules": [os.path.dirname(os.path.dirname(
                         os.path.abspath(__file__)))]})  # classifier/
        try:
            self.cpus, self.nice = cpus, nice
            self.threads = max(1, int(cpus))
            self.stop_grace, self.cancel_grace = stop_grace, cancel_grace
            self.slots = max(1, int(ray.cluster_resources().get("CPU", 0) // cpus))
            here = ray.get_runtime_context().get_node_id()
            self._board = _StopBoard.options(  # beside the app: it lives and dies with it
                scheduling_strategy=NodeAffinitySchedulingStrategy(here, soft=True)).remote()
            self._task = ray.remote(num_returns="streaming", num_cpus=cpus, max_retries=0,
                                    max_calls=recycle_after)(_train_task)
        except BaseException:
            if self._owns_ray:
                ray.shutdown()
            raise
        self._lock = threading.Lock()
        self._tasks: dict[str, dict] = {}  # key -> {"gen": ..., "where": {...} once started}
        self._warming: list = []
        self.running = 0  # trainings submitted and not yet ended

    def start(self, wait: float | None = None) -> "RayTrainer":
        """Warm one worker per slot now (spread over the nodes), in the background; with `wait`,
        block up to `wait` s until they are warm."""
        with self._lock:
            if not self._warming:
                warm = ray.remote(_warm_up).options(num_cpus=self.cpus, max_retries=0,
                                                    scheduling_strategy="SPREAD")
                self._warming = [warm.remote(self.threads, self.nice) for _ in range(self.slots)]
            warming = list(self._warming)
        if wait is not None:
            ray.wait(warming, num_returns=len(warming), timeout=wait)
        return self

    def busy_pids(self) -> list[int]:
        """The process ids of the Ray workers running a training now (on their nodes)."""
        return [w["pid"] for w in self.busy()]

    def busy(self) -> list[dict]:
        """Where each training in flight runs: host, pid and Ray node id (once started)."""
        with self._lock:
            return [dict(t["where"]) for t in self._tasks.values() if "where" in t]

    def close(self) -> None:
        """Cancel what runs, let go of the stop board, and disconnect if we connected."""
        with self._lock:
            tasks = list(self._tasks.values())
            warming, self._warming = self._warming, []
        for ref in [t["gen"] for t in tasks] + warming:
            try:
                ray.cancel(ref, force=True)
            except Exception:  # noqa: BLE001 - already ended, or Ray already gone
                pass
        for t in tasks:
            t["watcher"].join(timeout=self.cancel_grace + 5)
        try:
            ray.kill(self._board)
        except Exception:  # noqa: BLE001
            pass
        if self._owns_ray and ray.is_initialized():
            ray.shutdown()

    def stream(self, job: Job, stop: threading.Event, gone: Callable[[], bool] | None = None,
               done: Callable[[], object] | None = None, every: float = 0.25,
               patience: float = 15.0) -> Iterator[list[dict] | Record]:
        """Run `job` as a Ray task: yield lists of new points at most every `every` s, then its
        `Record`. `stop` set: the run ends after its current step, evaluated and kept; `gone()`
        true or the iterator closed: the task is cancelled (CallerGone); nobody pulling for
        `patience` s: stopped. `done()` is called as soon as the task has ended."""
        key = uuid.uuid4().hex
        gen = self._task.remote(job, self._board, key, self.threads, self.nice)
        inbox: queue.Queue = queue.Queue()
        last_pull = [time.monotonic()]
        dropped = threading.Event()
        watcher = threading.Thread(target=self._watch, name="ray-training-watch", daemon=True,
                                   args=(key, gen, inbox, stop, gone, done, last_pull, patience,
                                         dropped))
        with self._lock:
            self.running += 1
            self._tasks[key] = {"gen": gen, "watcher": watcher}
        watcher.start()
        ended = False
        try:
            for item in relay(inbox, last_pull, every):
                if not isinstance(item, list):
                    ended = True
                    if isinstance(item, BaseException):
                        raise item
                yield item
        finally:
            if not ended:
                dropped.set()  # the consumer went away: the watcher cancels the task

    def _watch(self, key: str, gen, inbox: queue.Queue, stop: threading.Event, gone, done,
               last_pull: list, patience: float, dropped: threading.Event) -> None:
        """The task's supervisor (it runs whether or not anyone pulls): passes points on, turns
        Stop into the stop board's flag, a caller gone or a closed stream into `ray.cancel`, and
        Ray's errors into the caller's."""
        final: object = TrainingLost("it ended without a word")
        started = stop_at = cancelled_at = None
        why_cancelled: BaseException | None = None
        forced = acked = False

        def cancel(why: BaseException, force: bool = False) -> None:
            nonlocal cancelled_at, why_cancelled, forced
            cancelled_at, why_cancelled = cancelled_at or time.monotonic(), why_cancelled or why
            forced = forced or force
            try:
                ray.cancel(gen, force=force)
            except Exception:  # noqa: BLE001 - it ended meanwhile
                pass

        try:
            while True:
                now = time.monotonic()
                if cancelled_at is None:
                    if dropped.is_set() or (gone is not None and gone()):
                        cancel(CallerGone())
                    elif stop_at is None and (stop.is_set() or now - last_pull[0] > patience):
                        stop_at = now
                        self._board.stop.remote(key)
                    elif (stop_at is not None and not acked
                          and now - max(stop_at, started or 0) > self.stop_grace):
                        cancel(TrainingLost(f"it did not stop within {self.stop_grace:g} s of "
                                            "Stop and was cancelled") if started else
                               ValueError("stopped before the cluster had started it: nothing "
                                          "was trained"))
                elif not forced and now - cancelled_at > self.cancel_grace:
                    cancel(why_cancelled, force=True)
                if not ray.wait([gen], timeout=0.1)[0]:
                    continue
                try:
                    item = ray.get(next(gen))
                except StopIteration:
                    final = why_cancelled or final
                    return
                except ray.exceptions.RayError as exc:
                    final = why_cancelled or _lost(exc)
                    return
                if isinstance(item, list):
                    for point in item:
                        inbox.put(point)
                elif item[0] == "started":
                    started = time.monotonic()
                    with self._lock:
                        self._tasks[key]["where"] = item[1]
                elif item[0] == "stopping":
                    acked = True
                else:
                    final = OUTCOMES[item[0]](item[1])
                    ray.wait([gen.completed()], timeout=5)  # its last line: the task returns
                    return
        except Exception as exc:  # noqa: BLE001 - Ray itself failed here (disconnected, shut down)
            final = why_cancelled or TrainingLost(f"Ray failed: {_first_line(exc)}")
        finally:  # the slot is free before the caller hears how the run ended
            if stop_at is not None:
                try:
                    self._board.forget.remote(key)
                except Exception:  # noqa: BLE001
                    pass
            with self._lock:
                self.running -= 1
                self._tasks.pop(key, None)
            if done is not None:
                done()
            inbox.put(final)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _lost(exc: BaseException) -> BaseException:
    """What the caller hears when Ray reports `exc` for a training we did not cancel."""
    errors = ray.exceptions
    if isinstance(exc, errors.TaskCancelledError):  # (also a RayTaskError when it ran)
        return TrainingLost("its Ray task was cancelled on the cluster")
    if isinstance(exc, errors.RayTaskError):  # the task raised outside the training itself
        cause = exc.cause if getattr(exc, "cause", None) is not None else exc
        return RuntimeError(f"the training failed on the Ray cluster: {type(cause).__name__}: "
                            f"{_first_line(cause)}")
    if isinstance(exc, errors.OutOfMemoryError):
        return TrainingLost(f"Ray ended its worker for want of memory: {_first_line(exc)}")
    if isinstance(exc, errors.NodeDiedError):
        return TrainingLost(f"its Ray node died: {_first_line(exc)}")
    if isinstance(exc, errors.WorkerCrashedError):
        return TrainingLost(f"its Ray worker died: {_first_line(exc)}")
    return TrainingLost(f"Ray said: {_first_line(exc)}")
