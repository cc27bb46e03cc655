"""resnet_lessons.files.replaced_folder: a folder holds all the old files or all the new ones, never a mix."""

import pytest

from resnet_lessons.files import replaced_folder


def test_an_error_inside_the_block_leaves_the_folder_as_it_was(tmp_path):
    folder = tmp_path / "depth"
    folder.mkdir()
    (folder / "a.json").write_text("old a")
    (folder / "b.json").write_text("old b")
    with pytest.raises(KeyboardInterrupt), replaced_folder(folder) as new:
        (new / "a.json").write_text("new a")
        raise KeyboardInterrupt  # Ctrl-C between the two files
    assert {p.name: p.read_text() for p in folder.iterdir()} == {"a.json": "old a", "b.json": "old b"}
    assert [p.name for p in tmp_path.iterdir()] == ["depth"]  # no temporary folder left


def test_the_new_folder_replaces_the_old_one_and_keeps_the_files_not_rewritten(tmp_path):
    folder = tmp_path / "depth"
    folder.mkdir()
    (folder / "a.json").write_text("old a")
    (folder / "b.json").write_text("old b")
    with replaced_folder(folder) as new:
        assert (new / "b.json").read_text() == "old b"
        (new / "a.json").write_text("new a")
    assert {p.name: p.read_text() for p in folder.iterdir()} == {"a.json": "new a", "b.json": "old b"}
    with replaced_folder(folder, keep_old=False) as new:
        (new / "c.json").write_text("c")
    assert [p.name for p in folder.iterdir()] == ["c.json"]
    assert [p.name for p in tmp_path.iterdir()] == ["depth"]
