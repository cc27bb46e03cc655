"""The lecture decks: each instructor notebook as reveal.js slides that work with no network.

A notebook's lecture path is its cells' ``slideshow.slide_type`` metadata (as JupyterLab, RISE and
``nbconvert --to slides`` read it, see :func:`slide_type`). ::

    python -m resnet_lessons.lab.slides notebooks build/slides     # what `make slides` runs

writes ``build/slides/NN_name.slides.html`` from each notebook's stored outputs (nothing is executed) with
nbconvert's SlidesExporter, except that:

- every library (reveal.js, require.js, jQuery, MathJax 2) is a local file under ``assets/`` named by a relative
  path (a deck opens straight from the file), fetched once from the npm registry (:mod:`resnet_lessons.lab.npm`);
  nothing else comes from the web (no mermaid, widget manager or web images);
- each cell is fitted to its slide (:func:`as_shown`) and every slide laid out once (:data:`TEMPLATE`).
"""

from __future__ import annotations

import base64
import copy
import re
import sys
import time
from pathlib import Path

from resnet_lessons.files import atomic_write
from resnet_lessons.lab.npm import AssetsError, NpmPackage, tarballs, unpack

MAX_CODE_LINES = 12  # a longer code cell shows only its outputs on a slide
MAX_SHOWN_WORDS = 80  # a longer markdown cell shows its opening on the slide, the rest in the speaker notes
SLIDE_WIDTH, SLIDE_HEIGHT = 1280, 720  # reveal.js's slide size, in CSS pixels (a 16:9 projector)
FIGURE_ROOM = 500  # px: the height all figures of one code cell share on a slide, less its text outputs
TEXT_LINE = 28  # px: the height of one line of text output on a slide (15 px font, spaced)
ASSETS = "assets"  # the folder beside the decks that holds the libraries

_MATHJAX_FILES = ("MathJax.js", "config/TeX-AMS_CHTML-full.js", "config/Safe.js", "extensions/", "jax/input/TeX/",
                  "jax/output/CommonHTML/", "jax/output/PreviewHTML/", "jax/element/mml/",
                  "fonts/HTML-CSS/TeX/woff/", "fonts/HTML-CSS/TeX/otf/")

# The last releases of the lines nbconvert 7's reveal template is written for (reveal.js 4, MathJax 2).
PACKAGES: tuple[NpmPackage, ...] = (
    NpmPackage("reveal.js", "4.6.1",
               "sha512-1CW0auaXNPmwmvQ7TwpszwVxMi2Xr5cTS3J3EBC/HHgbPF32Dn7aiu/LKWDOGjMbaDwKQiGmfqcoGQ74HUHCMw==",
               {"dist/": "reveal.js/dist/", "plugin/notes/": "reveal.js/plugin/notes/",
                "LICENSE": "reveal.js/LICENSE"}),
    NpmPackage("requirejs", "2.3.7",
               "sha512-DouTG8T1WanGok6Qjg2SXuCMzszOo0eHeH9hDZ5Y4x8Je+9JB38HdTLT4/VA8OaUhBa0JPVHJ0pyBkM1z+pDsw==",
               {"require.js": "require.js"}),
    NpmPackage("jquery", "3.7.1",
               "sha512-m4avr8yL8kmFN8psrbFFFmB/If14iN5o9nw/NgnnM+kybDJpRsAynV2BsfpTYrTRysYUdADVD7CkUUizgkpLfg==",
               {"dist/jquery.min.js": "jquery.min.js"}),
    NpmPackage("mathjax", "2.7.9",
               "sha512-NOGEDTIM9+MrsqnjPEjVGNx4q0GQxqm61yQwSK+/5S59i26wId5IC5gNu9/bu8+CCVl5p9G2IHcAl/wJa+5+BQ==",
               {path: f"mathjax/{path}" for path in _MATHJAX_FILES}),
)

# nbconvert's reveal template, less its mermaid module, plus the course's slide styles. Its start-up script is
# replaced: nbconvert's re-renders a slide's math on every slide change, which leaves blank math when slides are
# passed quickly; here every slide is laid out from the start and the math rendered once, after sizing.
TEMPLATE = """\
{%- extends 'index.html.j2' -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_css -%}
<link rel="icon" href="data:,">
<style type="text/css">
.reveal .slides section { height: auto; }
.reveal .jp-RenderedImage img { max-width: 100%; margin: 0; }
.reveal .jp-RenderedHTMLCommon { font-size: 22px; line-height: 1.35; }
.reveal .jp-RenderedHTMLCommon h1 { font-size: 44px; }
.reveal .jp-RenderedHTMLCommon h2 { font-size: 36px; }
.reveal .jp-RenderedHTMLCommon h3 { font-size: 30px; }
.reveal pre { font-size: 17px; line-height: 1.3; }
.reveal .jp-RenderedHTMLCommon table { font-size: 16px; }
.reveal .jp-RenderedHTMLCommon td, .reveal .jp-RenderedHTMLCommon th { padding: 2px 8px; }
.reveal .jp-OutputArea-output pre { font-size: 15px; }
</style>
{%- endblock html_head_css -%}
{%- block footer_js -%}
<script>
require(["{{ resources.reveal.url_prefix }}/dist/reveal.js", "{{ resources.reveal.url_prefix }}/plugin/notes/notes.js"],
  function (Reveal, RevealNotes) {
    window.Reveal = Reveal;  // for the console and for tests
    Reveal.initialize({
      controls: true, progress: true, history: true, transition: "{{ resources.reveal.transition }}",
      slideNumber: "{{ resources.reveal.number }}", plugins: [RevealNotes],
      width: {{ resources.reveal.width }}, height: {{ resources.reveal.height }},
      viewDistance: 1000,  // every slide laid out, so that MathJax measures its math right
    }).then(function () {
      MathJax.Hub.Queue(["Rerender", MathJax.Hub]);  // once, now that the slides have their size
    });
  });
</script>
{%- endblock footer_js -%}
"""


# A markdown image fetched from the web, with the link around it if any (Colab's badge): not on a slide.
_REMOTE_IMAGE = re.compile(r"\[?!\[[^\]]*\]\(https?://[^)]*\)(?:\]\([^)]*\))?")


class SlidesError(ValueError):
    """A notebook cannot become a deck (e.g. it has no slide metadata); the message says what to do."""


def slide_type(cell) -> str:
    """The cell's ``slideshow.slide_type``: slide, subslide, fragment, skip, notes, or ``-`` (continue)."""
    return cell.get("metadata", {}).get("slideshow", {}).get("slide_type", "-")


def has_slides(notebook) -> bool:
    """True when at least one cell starts a slide: the notebook carries a lecture path."""
    return any(slide_type(cell) in ("slide", "subslide") for cell in notebook["cells"])


def slide_count(notebook) -> int:
    """How many slides the deck has (reveal.js's ``getTotalSlides``): every slide and subslide, and the first
    shown cell, which always starts the deck."""
    shown = [slide_type(cell) for cell in notebook["cells"] if slide_type(cell) not in ("skip", "notes")]
    if not shown:
        return 0
    return sum(kind in ("slide", "subslide") for kind in shown) + (shown[0] not in ("slide", "subslide"))


def assets_missing(folder: Path) -> list[NpmPackage]:
    """The packages whose files are not all under ``folder``."""
    def present(dest: str) -> bool:
        path = folder / dest
        return any(path.iterdir()) if dest.endswith("/") and path.is_dir() else path.is_file()

    return [p for p in PACKAGES if not all(present(dest) for dest in p.files.values())]


def install_assets(folder: Path, cache: Path | None = None) -> list[str]:
    """Put the decks' missing libraries under ``folder`` (from the npm cache, fetched once); return the packages
    written. Raises :class:`~resnet_lessons.lab.npm.AssetsError` when they cannot be fetched."""
    todo = assets_missing(folder)
    data = tarballs(todo, cache)
    for package in todo:
        unpack(package, data[package], folder)
    return [f"{p.name}@{p.version}" for p in todo]


def split_prose(source: str, words: int = MAX_SHOWN_WORDS) -> tuple[str, str]:
    """A markdown cell's text as (shown, notes): its opening paragraphs up to ``words`` words (at least the
    first, and the one after a heading) and every paragraph with a displayed equation (``$$``) on the
    slide; the other paragraphs, in order, for the speaker notes ("" if the whole cell fits)."""
    if len(source.split()) <= words:
        return source, ""
    blocks = [b for b in source.strip().split("\n\n") if b.strip()]
    keep, count = set(), 0
    for i, block in enumerate(blocks):  # the opening
        heading_only = i == 1 and blocks[0].lstrip().startswith("#") and "\n" not in blocks[0].strip()
        if i > 0 and count + len(block.split()) > words and not heading_only:
            break
        keep.add(i)
        count += len(block.split())
    keep |= {i for i, block in enumerate(blocks) if "$$" in block}  # the derivations stay on the slide
    return ("\n\n".join(b for i, b in enumerate(blocks) if i in keep),
            "\n\n".join(b for i, b in enumerate(blocks) if i not in keep))


def png_size(data: str) -> tuple[int, int]:
    """(width, height) in pixels of a base64-encoded PNG, from its header."""
    header = base64.b64decode(data[:32])
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


def text_lines(cell) -> int:
    """How many lines of text (streams, plain text, markdown, table rows) a code cell's outputs show."""
    lines = 0
    for output in cell.get("outputs", []):
        data = output.get("data", {})
        if output.get("output_type") == "stream":
            lines += len(output.get("text", "").strip().splitlines())
        elif "image/png" in data:
            continue
        elif "text/markdown" in data:
            lines += len(data["text/markdown"].strip().splitlines())
        elif "text/html" in data:
            lines += data["text/html"].count("<tr")
        elif "text/plain" in data:
            lines += len(data["text/plain"].strip().splitlines())
    return lines


def _shows_something(output) -> bool:
    """False for outputs that draw nothing: an empty text (a progress bar's placeholder) or no data."""
    if output.get("output_type") == "stream":
        return bool(output.get("text", "").strip())
    data = output.get("data", {})
    return bool(data) and not (set(data) == {"text/plain"} and not data["text/plain"].strip())


def as_shown(cell) -> list:
    """The cell as its slide shows it (a copy), followed by a speaker-notes cell when its prose is too long.

    Markdown: no web images; past :data:`MAX_SHOWN_WORDS` words, the rest goes to the notes. Code: no widget
    views, empty outputs or ``# NBVAL_`` lines (test markers); figures share :data:`FIGURE_ROOM` pixels of height
    with the text outputs; the source left out when the cell draws a figure or has over :data:`MAX_CODE_LINES` lines.
    """
    import nbformat

    cell = copy.deepcopy(cell)
    if cell.cell_type == "markdown":
        cell.source = _REMOTE_IMAGE.sub("", cell.source)  # the deck loads nothing from the web
        if slide_type(cell) in ("skip", "notes"):
            return [cell]
        cell.source, rest = split_prose(cell.source)
        if not rest:
            return [cell]
        notes = nbformat.v4.new_markdown_cell(rest, id=f"{cell.get('id', 'cell')}-notes")
        notes.metadata["slideshow"] = {"slide_type": "notes"}
        return [cell, notes]
    if cell.cell_type != "code":
        return [cell]
    for output in cell.get("outputs", []):
        output.get("data", {}).pop("application/vnd.jupyter.widget-view+json", None)
    cell.outputs = [o for o in cell.get("outputs", []) if _shows_something(o)]
    figures = [o for o in cell.outputs if "image/png" in o.get("data", {})]
    room = max(FIGURE_ROOM // 2, FIGURE_ROOM - TEXT_LINE * text_lines(cell))
    for output in figures:  # all of a cell's figures share the room, at most the slide's width each
        width, height = png_size(output["data"]["image/png"])
        scale = min(1.0, (SLIDE_WIDTH - 100) / width, room / len(figures) / height)
        output.setdefault("metadata", {})["image/png"] = {"width": int(width * scale), "height": int(height * scale)}
    cell.source = "\n".join(line for line in cell.source.splitlines() if not line.startswith("# NBVAL_"))
    if figures or len(cell.source.splitlines()) > MAX_CODE_LINES:
        cell.metadata.transient = {"remove_source": True}  # nbconvert's own switch for "output only"
    return [cell]


def for_slides(notebook):
    """A copy of the notebook as the deck shows it: every cell :func:`as_shown`, no widget state."""
    notebook = copy.deepcopy(notebook)
    notebook.metadata.pop("widgets", None)  # no widget manager on the page
    notebook.cells = [shown for cell in notebook.cells for shown in as_shown(cell)]
    return notebook


def exporter():
    """nbconvert's SlidesExporter set up for the course's decks (local assets, 1280 x 720, no prompts)."""
    import jinja2
    from nbconvert.exporters import SlidesExporter

    return SlidesExporter(
        extra_loaders=[jinja2.DictLoader({"lecture.html.j2": TEMPLATE})], template_file="lecture.html.j2",
        reveal_url_prefix=f"{ASSETS}/reveal.js", require_js_url=f"{ASSETS}/require.js",
        jquery_url=f"{ASSETS}/jquery.min.js",
        mathjax_url=f"{ASSETS}/mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe",
        reveal_theme="white", reveal_width=str(SLIDE_WIDTH), reveal_height=str(SLIDE_HEIGHT), reveal_number="c/t",
        exclude_input_prompt=True, exclude_output_prompt=True)


def build_deck(path: Path, out_dir: Path) -> Path:
    """Write ``out_dir/<name>.slides.html`` for the notebook at ``path``; return its path.

    Raises :class:`SlidesError` when the notebook has no slide metadata. The libraries must already be
    under ``out_dir/assets`` (:func:`install_assets`; :func:`build` does both).
    """
    import nbformat

    path, out_dir = Path(path), Path(out_dir)
    notebook = nbformat.read(path, as_version=4)
    if not has_slides(notebook):
        raise SlidesError(f"{path.name} has no slide metadata (no cell's slideshow.slide_type is 'slide' or "
                          "'subslide'): give its cells slide types (JupyterLab: property inspector, 'Slide "
                          "Type') before building its deck")
    html, _ = exporter().from_notebook_node(for_slides(notebook), resources={"metadata": {"name": path.stem}})
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{path.stem}.slides.html"
    with atomic_write(target) as f:
        f.write(html.encode("utf-8"))
    return target


def notebooks_in(folder: Path) -> list[Path]:
    """The course's notebooks in a folder: ``NN_name.ipynb``, in order."""
    return sorted(Path(folder).glob("[0-9][0-9]_*.ipynb"))


def build(notebooks: Path, out_dir: Path) -> tuple[list[Path], list[str]]:
    """Build every notebook's deck; return the decks written and one line per notebook left out."""
    out_dir = Path(out_dir)
    install_assets(out_dir / ASSETS)
    decks, problems = [], []
    for path in notebooks_in(notebooks):
        try:
            decks.append(build_deck(path, out_dir))
        except SlidesError as e:
            problems.append(str(e))
    return decks, problems


def main(argv: list[str] | None = None) -> int:
    """``python -m resnet_lessons.lab.slides [NOTEBOOKS [OUT]]``: build the decks, one line per deck."""
    args = sys.argv[1:] if argv is None else argv
    notebooks, out_dir = Path(args[0] if args else "notebooks"), Path(args[1] if len(args) > 1 else "build/slides")
    if not notebooks_in(notebooks):
        print(f"no notebooks (NN_name.ipynb) in {notebooks}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    try:
        decks, problems = build(notebooks, out_dir)
    except AssetsError as e:
        print(f"slides: the decks' libraries are missing and {e}; run `make slides` once with access to the "
              "npm registry (registry.npmjs.org)", file=sys.stderr)
        return 1
    import nbformat

    for deck in decks:
        count = slide_count(nbformat.read(notebooks / deck.name.replace(".slides.html", ".ipynb"), as_version=4))
        print(f"{deck}: {count} slides, {deck.stat().st_size / 1e6:.1f} MB")
    for problem in problems:
        print(f"slides: no deck for {problem}", file=sys.stderr)
    print(f"{len(decks)} decks in {time.perf_counter() - start:.1f} s; open {out_dir}/<name>.slides.html")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
