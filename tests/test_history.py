"""History and its typed RunRecord: what is saved is what is read back, and a misspelt fact is refused."""

import json

import pytest

from resnet_lessons.history import History, RunRecord


def _history() -> History:
    h = History(record=RunRecord(model="resnet-20", recipe="onecycle", epochs=2, device="cpu (2 threads)",
                                 train_images=2_000, mean=[0.49, 0.48, 0.45]))
    for e in (1, 2):
        h.append(epoch=e, train_loss=1.0 / e, train_acc=0.4 * e, test_loss=1.1 / e, test_acc=0.35 * e,
                 lr=0.1, seconds=3.0, images_per_s=600.0)
    return h


def test_save_and_load_keep_every_number_and_fact(tmp_path):
    h = _history()
    back = History.load(h.save(tmp_path / "history.json"))
    assert back == h
    assert back.record.device == "cpu (2 threads)" and back.record.train_images == 2_000
    assert isinstance(back.record, RunRecord)


def test_the_record_is_stored_under_its_name(tmp_path):
    saved = json.loads(_history().save(tmp_path / "h.json").read_text())
    assert "record" in saved and "meta" not in saved
    assert saved["record"]["recipe"] == "onecycle"


def test_a_history_in_another_layout_is_refused_saying_how_to_remake_it():
    d = _history().to_dict()
    d["meta"] = d.pop("record")  # the facts under another key
    with pytest.raises(ValueError, match=r"under 'meta'.*train the run again"):
        History.from_dict(d)
    numbers_only = {k: v for k, v in _history().to_dict().items() if k != "record"}  # a shipped network's
    assert History.from_dict(numbers_only).test_acc == _history().test_acc


def test_a_misspelt_fact_is_refused_with_the_names_it_could_be():
    with pytest.raises(ValueError, match=r"Unknown fact\(s\) in a run record: devise") as e:
        RunRecord.from_dict({"model": "resnet-20", "devise": "cpu"})
    assert "device" in str(e.value)  # the message lists the valid names
    with pytest.raises(AttributeError):
        _ = _history().record.devise  # a misspelt read fails too, instead of returning a blank


def test_a_corrupt_file_is_refused_clearly(tmp_path):
    path = tmp_path / "history.json"
    path.write_text('{"epoch": [1], ')
    with pytest.raises(ValueError, match="not a valid history JSON file"):
        History.load(path)
    with pytest.raises(FileNotFoundError, match="No history file"):
        History.load(tmp_path / "missing.json")
