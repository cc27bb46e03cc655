"""The student edition: ``notebooks/NN_topic.ipynb`` (instructor) -> ``student/NN_topic.ipynb``.

The instructor edition is the source. Its cells carry tags that say what they are:

- ``solution``: a worked solution (code cells starting ``# @title Solution``, markdown cells starting
  ``*Worked answer`` or ``*What to look for``). Removed from the student edition.
- ``exercise``: the cell a student fills in (it has a ``# TODO``). Its outputs are cleared.
- ``check``: the cell that runs the checker on the student's answer. Its outputs are cleared.

Cleared cells also get nbval's ``nbval-ignore-output`` tag (nbval still runs them, so an unanswered check
must not raise). Everything else is copied with its outputs, except that links to an instructor notebook
(``.../blob/main/notebooks/NN_...``) point at ``student/`` and the lecture path (``slideshow`` metadata) is
dropped. Needs nbformat (the ``test`` extras)::

    python -m resnet_lessons.lab.edition build notebooks student   # what `make student` runs
    python -m resnet_lessons.lab.edition tag notebooks/*.ipynb     # (re)write the tags from the conventions above
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import re
import sys
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from ..files import replaced_folder

SOLUTION, EXERCISE, CHECK = "solution", "exercise", "check"
CLEARED_TAGS = (EXERCISE, CHECK)
NBVAL_IGNORE = "nbval-ignore-output"
INSTRUCTOR_LINK = re.compile(r"/blob/main/notebooks/([0-9][0-9]_)")
SOLUTION_STARTS = ("# @title Solution", "*Worked answer", "*What to look for")


# --- building the student edition ---


class EditionError(ValueError):
    """An instructor notebook the student edition cannot be built from (unreadable, or a solution untagged)."""


def student_edition(instructor: NotebookNode, source_name: str = "") -> NotebookNode:
    """A new notebook: ``instructor`` without its ``solution`` cells and with exercise/check outputs cleared.

    Its metadata names the source and the SHA-256 of the source's text, so that any change to the
    instructor notebook (a solution's too) makes the committed student edition out of step.
    """
    nb = copy.deepcopy(instructor)
    nb.cells = [cell for cell in nb.cells if SOLUTION not in cell.metadata.get("tags", [])]
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if cell.cell_type == "code" and any(tag in tags for tag in CLEARED_TAGS):
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("execution", None)
            if NBVAL_IGNORE not in tags:  # nbval runs the cell but has no stored output to compare
                cell.metadata["tags"] = [*tags, NBVAL_IGNORE]
        if cell.cell_type == "markdown":  # the Colab badge opens the student notebook
            cell.source = INSTRUCTOR_LINK.sub(r"/blob/main/student/\1", cell.source)
        cell.metadata.pop("slideshow", None)  # students work through a notebook rather than present it
    source_sha256 = hashlib.sha256(nbformat.writes(instructor).encode()).hexdigest()
    nb.metadata["resnet_lessons"] = {"edition": "student", "source": source_name, "source_sha256": source_sha256}
    return nb


def read_instructor(path: Path) -> NotebookNode:
    """The instructor notebook at ``path``; EditionError naming the file when it is not a readable notebook
    or holds a worked solution without its ``solution`` tag (it would reach the student edition)."""
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as e:  # nbformat raises NotJSONError, ValidationError, KeyError... for a broken file
        raise EditionError(f"{path} is not a readable notebook ({type(e).__name__}: {str(e).strip()[:200]}). "
                           "Repair it (or restore it with git) and build again; nothing was written.") from None
    untagged = [i + 1 for i, cell in enumerate(nb.cells)
                if is_solution(cell) and SOLUTION not in cell.metadata.get("tags", [])]
    if untagged:
        cells = ", ".join(map(str, untagged))
        raise EditionError(
            f"{path}: cell {cells} starts like a worked solution ({' / '.join(SOLUTION_STARTS)}) but is not "
            f"tagged 'solution', so it would reach the student edition. Tag it: python -m "
            f"resnet_lessons.lab.edition tag {path}")
    return nb


def student_text(instructor_path: Path) -> str:
    """The student edition of the notebook at ``instructor_path``, as the text ``build`` writes."""
    nb = read_instructor(instructor_path)
    return nbformat.writes(student_edition(nb, f"notebooks/{Path(instructor_path).name}")) + "\n"


def course_notebooks(source_dir: Path) -> list[Path]:
    """The course's notebooks ``NN_topic.ipynb`` in ``source_dir``, in order; none found is an error."""
    paths = sorted(Path(source_dir).glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        raise FileNotFoundError(f"no notebooks named NN_topic.ipynb in {source_dir}: pass the instructor "
                                "edition's folder (notebooks/).")
    return paths


def build(source_dir: Path, target_dir: Path) -> list[Path]:
    """Write the student edition of every notebook in ``source_dir`` into ``target_dir``; return the paths.

    Every notebook is built into a temporary folder first; only when all of them are built does it replace
    ``target_dir`` (other files there are kept). A notebook that cannot be built leaves ``target_dir`` as it was.
    ValueError when ``target_dir`` is ``source_dir``, inside it or holds it (the build would replace the solutions).
    """
    sources = course_notebooks(source_dir)
    source, target = Path(source_dir).resolve(), Path(target_dir).resolve()
    if target == source or source in target.parents or target in source.parents:
        raise ValueError(f"the target {target_dir} is, or is inside, or holds the instructor edition {source_dir}: "
                         "building there would replace its worked solutions. Build into another folder, "
                         "e.g. student (python -m resnet_lessons.lab.edition build notebooks student).")
    target_dir = Path(target_dir)
    with replaced_folder(target_dir) as new:
        for path in sources:
            (new / path.name).write_text(student_text(path), encoding="utf-8")
    return [target_dir / path.name for path in sources]


def out_of_step(source_dir: Path, target_dir: Path) -> list[str]:
    """Names of the student notebooks that differ from a fresh build (or are missing, or have no source)."""
    problems = []
    sources = {p.name: p for p in course_notebooks(source_dir)}
    for name, path in sources.items():
        target = Path(target_dir) / name
        try:
            fresh = student_text(path)
        except EditionError as e:
            problems.append(str(e))
            continue
        if not target.exists():
            problems.append(f"{name} is missing")
        elif target.read_text(encoding="utf-8") != fresh:
            problems.append(f"{name} differs from a fresh build")
    for target in sorted(Path(target_dir).glob("[0-9][0-9]_*.ipynb")):
        if target.name not in sources:
            problems.append(f"{target.name} has no instructor notebook")
    return problems


# --- tagging the instructor edition ---


def is_solution(cell: NotebookNode) -> bool:
    """A worked solution: by the course's conventions, its source starts with one of SOLUTION_STARTS."""
    return cell.source.lstrip().startswith(SOLUTION_STARTS)


def tag_notebook(nb: NotebookNode) -> NotebookNode:
    """Tag ``nb``'s cells in place and return it (only metadata changes, never sources or outputs).

    Solution cells get ``solution`` (code ones also JupyterLab's collapsed source). In the exercises,
    the code cell just before a solution is its ``check``, and code cells between the exercise's text
    and the check that hold a ``# TODO`` are ``exercise`` cells (a check cell with a TODO is both).
    """
    cells = nb.cells
    for i, cell in enumerate(cells):
        if not is_solution(cell):
            continue
        _add_tag(cell, SOLUTION)
        if cell.cell_type == "code":
            cell.metadata.setdefault("jupyter", {})["source_hidden"] = True
            j = i - 1  # the check, then the code cells before it
            if j >= 0 and cells[j].cell_type == "code" and not is_solution(cells[j]):
                _add_tag(cells[j], CHECK)
            while j >= 0 and cells[j].cell_type == "code" and not is_solution(cells[j]):
                if "# TODO" in cells[j].source:
                    _add_tag(cells[j], EXERCISE)
                j -= 1
    return nb


def _add_tag(cell: NotebookNode, tag: str) -> None:
    tags = cell.metadata.setdefault("tags", [])
    if tag not in tags:
        tags.append(tag)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m resnet_lessons.lab.edition", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for command, what in (("build", "write the student edition"),
                          ("check", "exit 1 when the student edition is out of step with the source")):
        p = sub.add_parser(command, help=what)
        p.add_argument("source", type=Path, nargs="?", default=Path("notebooks"))
        p.add_argument("target", type=Path, nargs="?", default=Path("student"))
    t = sub.add_parser("tag", help="tag solution, exercise and check cells (metadata only)")
    t.add_argument("paths", type=Path, nargs="+")
    args = parser.parse_args(argv)
    if args.command == "build":
        try:
            written = build(args.source, args.target)
        except (ValueError, FileNotFoundError) as e:  # EditionError is a ValueError
            print(f"error: {e}", file=sys.stderr)
            return 2
        for path in written:
            print(f"wrote {path}")
    elif args.command == "check":
        problems = out_of_step(args.source, args.target)
        for problem in problems:
            if problem.startswith(str(args.source)):  # an instructor notebook to repair first (EditionError)
                print(problem)
            else:
                print(f"{args.target}/{problem}: run `make student` and commit {args.target}/.")
        return 1 if problems else 0
    else:
        for path in args.paths:
            nbformat.write(tag_notebook(nbformat.read(path, as_version=4)), path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
