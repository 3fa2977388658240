"""Trainings in local worker processes (issue 11): the same run as in-process, stop, a dropped
caller, a killed or hung worker, recycling."""
import os
import signal
import threading
import time

import numpy as np
import pytest
from conftest import items_of, make_dataset, wait_for

from classifier.backends.choice import train_stream
from classifier.backends.inline import InlineTrainer
from classifier.backends.jobs import CallerGone, TrainingLost
from classifier.backends.processes import ProcessTrainer
from classifier.core.settings import TrainSettings
from classifier.training.run import Run

LONG = TrainSettings(epochs=200, batch_size=4, steps_per_execution=1)


@pytest.fixture(scope="module")
def workers():
    trainer = ProcessTrainer(slots=1, hang_seconds=4).start()
    yield trainer
    trainer.close()



def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True



def test_a_run_in_a_worker_equals_the_same_run_in_this_process(workers):
    data = make_dataset(n_train=120, n_test=24)
    s = TrainSettings(epochs=2, batch_size=16)
    points, remote = items_of(train_stream(data, "mlp", s, threading.Event(), back_end=workers))
    _, local = items_of(train_stream(data, "mlp", s, threading.Event(), back_end=InlineTrainer()))
    assert isinstance(remote, Run) and remote.worker["pid"] != os.getpid()
    assert remote.metadata()["trained_on"]["pid"] == remote.worker["pid"]
    assert [p["epoch"] for p in points if p["kind"] == "epoch"] == [1, 2]
    assert "val_per_class" in points[-1]
    for a, b in zip(remote.model.get_weights(), local.model.get_weights()):
        assert np.allclose(a, b, atol=1e-5)
    assert np.allclose(remote.evaluation.probabilities, local.evaluation.probabilities, atol=1e-5)
    assert len(remote.result.epoch_weights) == 2  # for the Predict tab's epoch slider
    assert remote.result.history == pytest.approx(local.result.history, rel=1e-4)


def test_stop_ends_a_run_within_a_second_and_keeps_it(workers):
    stop = threading.Event()
    stream = train_stream(make_dataset(n_train=400, n_test=16), "mlp", LONG, stop,
                          back_end=workers)
    next(stream)
    stop.set()
    asked = time.monotonic()
    points, run = items_of(stream)
    assert time.monotonic() - asked < 3  # the step in flight, evaluation, the model home
    assert run.result.stopped == "stop requested" and run.result.epochs_done < 200
    assert run.evaluation.accuracy == run.evaluation.accuracy  # evaluated: not nan


def test_a_caller_gone_drops_the_run_and_frees_the_worker(workers):
    left = threading.Event()
    done = threading.Event()
    stream = train_stream(make_dataset(n_train=400, n_test=16), "mlp", LONG, threading.Event(),
                          gone=left.is_set, done=done.set, back_end=workers)
    next(stream)
    left.set()
    with pytest.raises(CallerGone):
        items_of(stream)
    assert done.wait(5) and workers.running == 0
    _, run = items_of(train_stream(make_dataset(), "mlp", TrainSettings(epochs=1),
                                   threading.Event(), back_end=workers))
    assert run.result.epochs_done == 1


def test_closing_the_stream_ends_the_workers_job(workers):
    done = threading.Event()
    stream = train_stream(make_dataset(n_train=400, n_test=16), "mlp", LONG, threading.Event(),
                          done=done.set, back_end=workers)
    next(stream)
    stream.close()  # a closed tab: Gradio closes the handler's generator
    assert done.wait(10) and workers.running == 0


@pytest.mark.parametrize("how, says", [(signal.SIGKILL, "killed by SIGKILL"),
                                       (signal.SIGSTOP, "stopped responding")])
def test_a_killed_or_hung_worker_costs_one_run_and_the_next_one_works(workers, how, says):
    done = threading.Event()
    stream = train_stream(make_dataset(n_train=400, n_test=16), "mlp", LONG, threading.Event(),
                          done=done.set, back_end=workers)
    next(stream)
    pid, = workers.busy_pids()
    os.kill(pid, how)
    with pytest.raises(TrainingLost) as lost:
        items_of(stream)
    assert "the training process stopped unexpectedly" in str(lost.value)
    assert says in str(lost.value) and "nothing else was affected" in str(lost.value)
    assert done.is_set() and workers.running == 0
    assert wait_for(lambda: not alive(pid), 10)  # ended and reaped
    _, run = items_of(train_stream(make_dataset(), "mlp", TrainSettings(epochs=1),
                                   threading.Event(), back_end=workers))
    assert run.result.epochs_done == 1 and run.worker["pid"] != pid


def test_a_refused_run_says_why_and_the_worker_carries_on(workers):
    data = make_dataset()
    data.x_train, data.y_train = data.x_train[:0], data.y_train[:0]
    with pytest.raises(ValueError, match="the training set is empty"):
        items_of(train_stream(data, "mlp", TrainSettings(epochs=1), threading.Event(),
                              back_end=workers))
    _, run = items_of(train_stream(make_dataset(), "mlp", TrainSettings(epochs=1),
                                   threading.Event(), back_end=workers))
    assert run.result.epochs_done == 1


def test_a_worker_retires_after_its_trainings_and_a_fresh_one_follows():
    trainer = ProcessTrainer(slots=1, recycle_after=1).start()
    try:
        pids = []
        for _ in range(2):
            _, run = items_of(train_stream(make_dataset(), "mlp", TrainSettings(epochs=1),
                                           threading.Event(), back_end=trainer))
            pids.append(run.worker["pid"])
        assert pids[0] != pids[1] and trainer.workers_started >= 2
    finally:
        trainer.close()


def test_points_come_at_most_every_quarter_second(workers):
    """A fast model sends a point every few milliseconds; the page gets them in lists, at most
    four a second (one each was enough to freeze Chromium redrawing the curves)."""
    t0 = time.monotonic()
    lists = [item for item in train_stream(make_dataset(n_train=400, n_test=16), "mlp",
                                           TrainSettings(epochs=3, batch_size=4,
                                                         steps_per_execution=1),
                                           threading.Event(), back_end=workers)
             if isinstance(item, list)]
    seconds = time.monotonic() - t0
    assert sum(len(points) for points in lists) >= 270  # 90 steps an epoch, each a point
    assert len(lists) <= seconds / 0.25 + 2, (len(lists), seconds)
