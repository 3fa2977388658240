"""Trainings on a Ray cluster (issue 11): a real two-node cluster on this machine, started with
the `ray` CLI, trains through the interface and through the running app's /train; Stop keeps an
evaluated run, a caller gone or a cancelled /train call cancels its Ray task."""
import contextlib
import os
import signal
import socket
import threading
import time

import pytest
from conftest import items_of, make_dataset, running_app, wait_for

from classifier.backends.choice import train_stream
from classifier.backends.jobs import CallerGone, Job, Record
from classifier.backends.ray_local import local_cluster
from classifier.core.settings import TrainSettings
from classifier.training.run import Run

LONG = TrainSettings(epochs=200, batch_size=4, steps_per_execution=1)


@pytest.fixture(scope="module")
def ray_cluster():
    """A head node and a second node on 127.0.0.1, one CPU each (so two trainings at once run
    on two nodes), with a throw-away token (`classifier/backends/ray_local.py`), which this
    process (the driver) shares while the module runs. Yields the head's address."""
    saved = {k: os.environ.get(k) for k in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "PYTHONBREAKPOINT")}
    try:  # (ray.init sets PYTHONBREAKPOINT)
        with local_cluster(nodes=2, cpus=1) as cluster:
            os.environ.update(cluster.env)
            yield cluster.address
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="module")
def cluster(ray_cluster):
    """The app's Ray back end on that cluster, its two workers warm."""
    from classifier.backends.ray_cluster import RayTrainer
    trainer = RayTrainer(ray_cluster).start(wait=120)
    yield trainer
    trainer.close()




def test_a_training_streams_from_a_ray_task_and_its_record_comes_home(cluster):
    import ray
    assert cluster.slots == 2 and cluster.name == "a Ray cluster"
    data = make_dataset(n_train=120, n_test=24)
    done = threading.Event()
    job = Job.of(data, "mlp", TrainSettings(epochs=2, batch_size=16))
    points, record = items_of(cluster.stream(job, threading.Event(), done=done.set))
    assert isinstance(record, Record) and done.is_set() and cluster.running == 0
    assert [p["epoch"] for p in points if p["kind"] == "epoch"] == [1, 2]
    run = record.to_run(data)
    assert isinstance(run, Run) and len(run.result.epoch_weights) == 2
    trained_on = run.metadata()["trained_on"]
    assert trained_on["node"] in {n["NodeID"] for n in ray.nodes() if n["Alive"]}
    assert trained_on["pid"] != os.getpid() and trained_on["host"] == socket.gethostname()
    assert run.evaluation.accuracy == run.evaluation.accuracy  # evaluated: not nan


def test_stop_ends_the_task_after_its_step_and_gives_back_an_evaluated_run(cluster):
    stop = threading.Event()
    stream = train_stream(make_dataset(n_train=400, n_test=16), "mlp", LONG, stop,
                          back_end=cluster)
    next(stream)
    stop.set()
    asked = time.monotonic()
    _, run = items_of(stream)
    assert time.monotonic() - asked < 5  # a board poll, the step in flight, evaluation, home
    assert run.result.stopped == "stop requested" and run.result.epochs_done < 200
    assert run.evaluation.accuracy == run.evaluation.accuracy and "node" in run.worker
    assert cluster.running == 0


def test_a_caller_gone_cancels_the_ray_task(cluster):
    left, done = threading.Event(), threading.Event()
    stream = train_stream(make_dataset(n_train=400, n_test=16), "mlp", LONG, threading.Event(),
                          gone=left.is_set, done=done.set, back_end=cluster)
    next(stream)
    left.set()
    with pytest.raises(CallerGone):
        items_of(stream)
    assert done.wait(5) and cluster.running == 0 and not cluster.busy()


@contextlib.contextmanager
def app_training_on(back_end):
    """The app trains with `back_end` (its admission sized to it); the previous back end, not
    closed meanwhile, comes back afterwards."""
    from classifier.backends import choice
    previous = choice.use(back_end, close=False)
    from classifier.ui import common
    slots, common.ADMISSION.slots = common.ADMISSION.slots, back_end.slots
    try:
        yield
    finally:
        common.ADMISSION.slots = slots
        choice.use(previous, close=False)


def test_two_trainings_through_the_app_run_on_two_nodes_and_one_is_cancelled(cluster,
                                                                              monkeypatch):
    from gradio_client import Client

    from classifier.serving.session import Session
    kept = []
    add_run = Session.add_run

    def add_and_note(self, run, *args, **kwargs):
        kept.append(run.metadata())
        return add_run(self, run, *args, **kwargs)

    monkeypatch.setattr(Session, "add_run", add_and_note)
    import ray
    cancelled, cancel = [], ray.cancel

    def cancel_and_note(ref, **kwargs):
        cancelled.append(kwargs)
        return cancel(ref, **kwargs)

    monkeypatch.setattr(ray, "cancel", cancel_and_note)
    form = ("recipe's own", 0, "cosine", 0.1)
    with app_training_on(cluster), running_app() as url:
        long = Client(url, verbose=False).submit("mlp", 50, 64, *form, api_name="/train")
        assert wait_for(lambda: len(cluster.busy()) == 1), "the first training never started"
        first_node = cluster.busy()[0]["node"]
        short = Client(url, verbose=False).submit("mlp", 2, 256, *form, api_name="/train")
        assert wait_for(lambda: len(cluster.busy()) == 2), "the second did not run alongside"
        assert len({w["node"] for w in cluster.busy()}) == 2  # one on each node

        def curve_points(job):
            return [row for out in job.outputs() for row in _plot_rows(out[0])]

        assert wait_for(lambda: curve_points(long)), "the first training streamed no curve"
        long.cancel()  # its user closed the tab
        acc, _, status = short.result(timeout=120)[:3]
        assert wait_for(lambda: cluster.running == 0, 30)  # the cancelled task ended too
    assert cancelled[:1] == [{"force": False}]  # ray.cancel (gently first) ended that task
    val = [row for row in _plot_rows(acc) if row[2] == "validation"
           and float(row[0]).is_integer()]
    assert len(val) == 2 and "after 2 complete epochs" in status, status
    assert len(kept) == 1  # the cancelled run was dropped, not kept
    trained_on = kept[0]["trained_on"]
    assert trained_on["node"] != first_node and trained_on["pid"] != os.getpid()


def _plot_rows(plot) -> list:
    """A streamed line plot's rows (it arrives as an update, or as the plot itself)."""
    if not isinstance(plot, dict):
        return []
    value = plot.get("value", plot) or {}
    return (value.get("data") or []) if isinstance(value, dict) else []


def test_a_killed_ray_worker_costs_one_run_with_rays_reason(cluster):
    """Last here: the next training on that node would start a cold worker."""
    from classifier.backends.jobs import TrainingLost
    done = threading.Event()
    stream = train_stream(make_dataset(n_train=400, n_test=16), "mlp", LONG, threading.Event(),
                          done=done.set, back_end=cluster)
    next(stream)
    pid, = cluster.busy_pids()
    os.kill(pid, signal.SIGKILL)  # out of memory, say
    with pytest.raises(TrainingLost) as lost:
        items_of(stream)
    assert "its Ray worker died" in str(lost.value)
    assert "nothing else was affected" in str(lost.value)
    assert done.is_set() and cluster.running == 0
