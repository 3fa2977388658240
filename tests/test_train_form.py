"""The Train form's link: a teacher's settings travel in the page's query, garbage never fails."""
from urllib.parse import parse_qsl

import pytest

from classifier.serving.train_form import (
    read_link,
    settings_query,
    train_settings,
)


def test_a_teachers_link_gives_its_values():
    link = read_link({"dataset": "mnist", "model": "cnn_quick", "seconds": "30", "epochs": "8",
                      "batch": "128", "lr": "0.002", "data": "10", "wrong": "20"})
    assert link.values == dict(dataset="mnist", model="cnn_quick", seconds=30.0, epochs=8, batch=128,
                               lr=0.002, data=10.0, wrong=20.0)
    assert link.notes == [] and link.note() == ""


@pytest.mark.parametrize("query, bad", [
    ({"model": "resnet152"}, "model must be one of"),
    ({"epochs": "5000"}, "epochs must be a number from 1 to 50"),
    ({"epochs": "2.5"}, "epochs must be a whole number"),
    ({"batch": "100"}, "batch size must be one of"),
    ({"lr": "nan"}, "learning rate must be a number from 0 to 10"),
    ({"seconds": "3"}, "at least 5 seconds"),
    ({"seconds": "-1e308"}, "time budget"),
    ({"data": "0"}, "share of the training images"),
    ({"dataset": "../../etc/passwd"}, "dataset must be one of"),
    ({"dataset": "upload"}, "dataset must be one of"),  # your own zip cannot come from a link
    ({"evil": "<script>"}, "'evil' is not a setting"),
])
def test_a_bad_value_becomes_a_note_and_the_rest_is_used(query, bad):
    link = read_link({**query, "model": query.get("model", "mlp"), "epochs": query.get("epochs", "3")})
    assert bad in link.note()
    assert link.note().startswith("Some of this link's settings could not be used")
    assert {k: v for k, v in link.values.items() if k not in query} == \
        {k: v for k, v in dict(model="mlp", epochs=3).items() if k not in query}


def test_garbage_is_cut_short_and_counted():
    link = read_link({f"k{i}": "x" * 10_000 for i in range(1000)})
    assert link.values == {}
    note = link.note()
    assert len(note) < 1000 and "and 35 more" in note  # 40 names read, 5 shown


def test_repeated_names_use_the_last_and_lists_do_not_crash():
    assert read_link({"epochs": ["2", "7"]}).values == {"epochs": 7}
    assert read_link({"epochs": []}).notes  # nothing sent: a note, the form's own value
    assert read_link({"epochs": {"a": 1}}).notes


def test_the_query_for_the_form_reads_back_to_the_same_values():
    query, left_out = settings_query("fashion_mnist", "cnn_quick", 8, 128, 0.004, 30, 10, 20)
    assert left_out == ""
    back = read_link(dict(parse_qsl(query)))
    assert back.values == dict(dataset="fashion_mnist", model="cnn_quick", epochs=8, batch=128,
                               lr=0.004, seconds=30.0, data=10.0, wrong=20.0)


def test_the_query_leaves_out_defaults_and_what_cannot_travel():
    query, left_out = settings_query("upload", "mlp", 5, 64, 0, 0, 100, 0)
    assert query == "model=mlp&epochs=5&batch=64"
    assert "your own images do not travel" in left_out
    query, left_out = settings_query(["x"], "mlp", 999, 64, 0, 0, 100, 0)
    assert "epochs" not in query and "epochs must be" in left_out


def test_train_settings_checks_the_budget():
    assert train_settings("mlp", 1, 64, "adam", 0, "cosine", 0.1, 30).seconds == 30
    with pytest.raises(ValueError, match="at least 5 seconds"):
        train_settings("mlp", 1, 64, "adam", 0, "cosine", 0.1, 2)
