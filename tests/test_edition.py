"""The student edition: built from notebooks/ by `make student`, committed in student/, kept in step."""

import shutil
from pathlib import Path

import nbformat
import pytest

from resnet_lessons.lab import edition

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
STUDENT = ROOT / "student"
NAMES = [p.name for p in edition.course_notebooks(NOTEBOOKS)]


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def tags(cell) -> list[str]:
    return cell.metadata.get("tags", [])


def test_committed_student_edition_is_in_step_with_the_notebooks():
    problems = edition.out_of_step(NOTEBOOKS, STUDENT)
    assert problems == [], f"student/ is out of step ({'; '.join(problems)}): run `make student` and commit student/"


def test_the_student_edition_has_no_lecture_path():
    """The instructor edition carries slide metadata (make slides); the student edition drops it."""
    instructor = read(NOTEBOOKS / NAMES[1])
    assert any("slideshow" in cell.metadata for cell in instructor.cells)
    student = edition.student_edition(instructor, NAMES[1])
    assert not any("slideshow" in cell.metadata for cell in student.cells)
    assert len(student.cells) == len([c for c in instructor.cells if edition.SOLUTION not in tags(c)])


def test_an_edited_solution_without_regenerating_is_caught(tmp_path):
    source, target = tmp_path / "notebooks", tmp_path / "student"
    shutil.copytree(NOTEBOOKS, source)
    edition.build(source, target)
    assert edition.out_of_step(source, target) == []

    path = source / NAMES[0]
    nb = read(path)
    solution = next(c for c in nb.cells if edition.SOLUTION in tags(c))
    solution.source += "\n# a changed worked solution"
    nbformat.write(nb, path)
    assert edition.out_of_step(source, target) == [f"{NAMES[0]} differs from a fresh build"]
    assert solution.source not in edition.student_text(path)  # the solution itself never reaches student/
    assert edition.main(["check", str(source), str(target)]) == 1
    edition.build(source, target)
    assert edition.main(["check", str(source), str(target)]) == 0


def test_a_solution_whose_tag_was_lost_is_caught(tmp_path):
    """An edited solution cell that lost its tag would leak into student/: the sync check says so."""
    source, target = tmp_path / "notebooks", tmp_path / "student"
    shutil.copytree(NOTEBOOKS, source)
    edition.build(source, target)
    path = source / NAMES[0]
    nb = read(path)
    solution = next(c for c in nb.cells if edition.SOLUTION in tags(c))
    solution.metadata["tags"] = []
    nbformat.write(nb, path)
    problems = edition.out_of_step(source, target)
    assert len(problems) == 1 and NAMES[0] in problems[0] and "not tagged 'solution'" in problems[0], problems


def test_missing_and_extra_student_notebooks_are_reported(tmp_path):
    source, target = tmp_path / "notebooks", tmp_path / "student"
    shutil.copytree(NOTEBOOKS, source)
    edition.build(source, target)
    (target / NAMES[1]).unlink()
    shutil.copy(target / NAMES[0], target / "99_gone.ipynb")
    assert edition.out_of_step(source, target) == [f"{NAMES[1]} is missing", "99_gone.ipynb has no instructor notebook"]


def test_no_notebooks_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="notebooks/"):
        edition.build(tmp_path, tmp_path / "student")


@pytest.mark.parametrize("name", NAMES)
def test_student_edition_drops_solutions_clears_checks_and_keeps_the_rest(name):
    instructor, student = read(NOTEBOOKS / name), read(STUDENT / name)
    kept = [c for c in instructor.cells if edition.SOLUTION not in tags(c)]
    assert len(kept) < len(instructor.cells), "every notebook has worked solutions"
    assert len(student.cells) == len(kept)
    for source, cell in zip(kept, student.cells, strict=True):
        assert not edition.is_solution(cell), cell.source[:60]
        if cell.cell_type == "markdown":
            assert "/blob/main/notebooks/" not in cell.source
            continue
        assert cell.source == source.source
        if set(tags(source)) & {edition.EXERCISE, edition.CHECK}:
            assert cell.outputs == [] and cell.execution_count is None
            assert edition.NBVAL_IGNORE in tags(cell)
        else:
            assert cell.outputs == source.outputs
            assert tags(cell) == tags(source)


@pytest.mark.parametrize("name", NAMES)
def test_instructor_cells_are_tagged_by_the_conventions(name):
    """Every worked solution is tagged `solution` (code ones collapsed in JupyterLab), its check `check`;
    a code solution comes right after its check or after the solution it continues."""
    cells = read(NOTEBOOKS / name).cells
    for i, cell in enumerate(cells):
        first_line = cell.source.split("\n")[0]
        assert (edition.SOLUTION in tags(cell)) == edition.is_solution(cell), f"cell {i}: {first_line}"
        if edition.is_solution(cell) and cell.cell_type == "code":
            assert cell.metadata.get("jupyter", {}).get("source_hidden") is True, f"cell {i}: {first_line}"
            # a solution follows its check, or continues the solution before it
            before = set(tags(cells[i - 1]))
            assert before & {edition.CHECK, edition.SOLUTION}, f"cell {i - 1}, before a solution: {first_line}"
        if edition.CHECK in tags(cell):
            assert "check" in cell.source, f"cell {i} is tagged check but calls no checker"


def test_tagging_changes_only_metadata():
    ours = (edition.SOLUTION, edition.EXERCISE, edition.CHECK)
    committed = read(NOTEBOOKS / NAMES[0])
    nb = read(NOTEBOOKS / NAMES[0])
    for cell in nb.cells:
        cell.metadata.pop("tags", None)
    before = [(c.source, c.get("outputs")) for c in nb.cells]
    edition.tag_notebook(nb)
    assert [(c.source, c.get("outputs")) for c in nb.cells] == before
    assert [sorted(tags(c)) for c in nb.cells] == [sorted(t for t in tags(c) if t in ours) for c in committed.cells]
