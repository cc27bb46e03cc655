"""The lecture decks (resnet_lessons.lab.slides): built from the stored notebooks, checked in headless Chromium.

For every notebook in notebooks/, its deck is built (no re-execution) and opened from a local web server in
Chromium with every request outside 127.0.0.1 sent to a dead proxy, and the test checks: no request failed,
reveal.js is ready, the deck has as many slides as the metadata says, every figure is drawn, the math is
typeset, and no slide's content overflows the 1280 x 720 slide (paging through the deck, fragments shown).
A screenshot of one slide per deck goes to build/screenshots/. One deck is also opened from the file itself.
The browser tests skip, saying why, where Chromium, its driver or selenium is missing (as tests/test_browser.py).
"""

from __future__ import annotations

import functools
import http.server
import io
import shutil
import tarfile
import threading
from pathlib import Path

import nbformat
import pytest
from test_browser import SCREENSHOTS, _chromium, wait_until

from conftest import free_port
from resnet_lessons.lab import npm, slides

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = slides.notebooks_in(ROOT / "notebooks")
DECKS = ROOT / "build" / "slides"
LOAD_DEADLINE = 120.0  # seconds for a deck to load and typeset on a busy 2-core machine


def _notebook(*cells) -> nbformat.NotebookNode:
    notebook = nbformat.v4.new_notebook()
    for kind, source, slide_type in cells:
        cell = (nbformat.v4.new_markdown_cell if kind == "md" else nbformat.v4.new_code_cell)(source)
        if slide_type:
            cell.metadata["slideshow"] = {"slide_type": slide_type}
        notebook.cells.append(cell)
    return notebook


# ----------------------------------------------------------------------------------------------
# without a browser
# ----------------------------------------------------------------------------------------------

def test_slide_count_follows_the_metadata():
    notebook = _notebook(("md", "# Title", "slide"), ("md", "more", "-"), ("code", "x = 1", "skip"),
                         ("md", "## Part", "slide"), ("md", "below", "subslide"), ("md", "then", "fragment"),
                         ("md", "long words", "notes"))
    assert slides.slide_count(notebook) == 3
    # The first shown cell always starts the deck, whatever its type.
    assert slides.slide_count(_notebook(("code", "setup", "skip"), ("md", "intro", "-"), ("md", "# A", "slide"))) == 2


def test_a_notebook_without_slide_metadata_is_refused_with_what_to_do(tmp_path):
    path = tmp_path / "08_new.ipynb"
    nbformat.write(_notebook(("md", "# New", None), ("code", "1 + 1", None)), path)
    with pytest.raises(slides.SlidesError, match="08_new.ipynb has no slide metadata.*Slide Type"):
        slides.build_deck(path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_long_prose_goes_to_the_speaker_notes():
    source = "## Heading\n\n" + "short opening. " * 20 + "\n\n" + "the long rest. " * 100
    shown, notes = slides.split_prose(source, words=110)
    assert shown.startswith("## Heading") and "short opening" in shown and "long rest" not in shown
    assert notes.startswith("the long rest")
    # A displayed equation stays on the slide, wherever it is in the cell.
    shown, notes = slides.split_prose(source + "\n\n$$y = F(x) + x$$\n\n" + "more words. " * 30, words=110)
    assert "$$y = F(x) + x$$" in shown and "$$" not in notes and notes.endswith("more words.")
    assert slides.split_prose("a short cell", words=110) == ("a short cell", "")


def test_make_slides_builds_the_others_and_names_a_notebook_without_a_path(tmp_path, capsys):
    source = tmp_path / "notebooks"
    source.mkdir()
    shutil.copy(NOTEBOOKS[0], source / NOTEBOOKS[0].name)
    nbformat.write(_notebook(("md", "# New", None)), source / "08_new.ipynb")
    assert slides.main([str(source), str(tmp_path / "slides")]) == 1
    out, err = capsys.readouterr()
    assert (tmp_path / "slides" / f"{NOTEBOOKS[0].stem}.slides.html").is_file()
    assert not (tmp_path / "slides" / "08_new.slides.html").exists()
    assert "no deck for 08_new.ipynb has no slide metadata" in err
    count = slides.slide_count(nbformat.read(NOTEBOOKS[0], as_version=4))
    assert f"{NOTEBOOKS[0].stem}.slides.html: {count} slides" in out


def test_a_package_folder_is_unpacked_whole_and_a_missing_one_is_named(tmp_path):
    def tarball(files: dict[str, bytes]) -> bytes:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            for name, data in files.items():
                info = tarfile.TarInfo(f"package/{name}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        return buffer.getvalue()

    data = tarball({"dist/a.js": b"a", "dist/theme/b.css": b"b", "README.md": b"r"})
    package = npm.NpmPackage("lib", "1.0.0", "sha512-unused", {"dist/": "lib/dist/"})
    npm.unpack(package, data, tmp_path)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()) == [
        "lib/dist/a.js", "lib/dist/theme/b.css"]
    with pytest.raises(npm.AssetsError, match="lib-1.0.0.tgz has no folder plugin/"):
        npm.unpack(npm.NpmPackage("lib", "1.0.0", "sha512-unused", {"plugin/": "lib/plugin/"}), data, tmp_path)


def test_the_decks_load_nothing_from_the_web(tmp_path):
    """Scripts, styles and images of the built HTML are local (the Colab badge of the markdown is dropped)."""
    import re

    slides.install_assets(tmp_path / slides.ASSETS)
    deck = slides.build_deck(NOTEBOOKS[1], tmp_path).read_text()
    loads = (re.findall(r'<(?:script|img|link)[^>]*(?:src|href)="([^"]+)"', deck)
             + re.findall(r"import .* from '([^']+)'", deck))
    remote = [url for url in loads if not url.startswith(("assets/", "data:"))]
    assert loads and remote == [], remote
    assert "mermaid" not in deck and "embed-amd" not in deck and "widget-state" not in deck
    assert "assets/reveal.js/dist/reveal.js" in deck and 'src="data:image/png' in deck


# ----------------------------------------------------------------------------------------------
# in Chromium, network cut off
# ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def server():
    """build/slides/ served on 127.0.0.1 (quietly), with the decks' libraries in place."""
    slides.install_assets(DECKS / slides.ASSETS)
    handler = functools.partial(type("Quiet", (http.server.SimpleHTTPRequestHandler,),
                                     {"log_message": lambda *args: None}), directory=str(DECKS))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def offline_browser():
    """Headless Chromium with a 1280 x 720 page, every request outside 127.0.0.1 sent to a dead proxy."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    binary, driver = _chromium()
    options = Options()
    options.binary_location = binary
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run",
                     f"--proxy-server=http://127.0.0.1:{free_port()}", "--proxy-bypass-list=127.0.0.1",
                     "--allow-file-access-from-files"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    chrome = webdriver.Chrome(service=Service(driver), options=options)
    chrome.set_page_load_timeout(LOAD_DEADLINE)
    chrome.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 1280, "height": 720, "deviceScaleFactor": 1, "mobile": False})
    try:
        yield chrome
    finally:
        chrome.quit()


def failed_requests(chrome) -> list[str]:
    """Requests that failed or answered 4xx/5xx since the log was last read (Chrome's performance log)."""
    import json

    failed, urls = [], {}
    for entry in chrome.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message.get("params", {})
        if message["method"] == "Network.requestWillBeSent":
            urls[params["requestId"]] = params["request"]["url"][:120]
        elif message["method"] == "Network.loadingFailed" and not params.get("canceled"):
            failed.append(f"{urls.get(params['requestId'], '?')}: {params.get('errorText')}")
        elif message["method"] == "Network.responseReceived" and params["response"]["status"] >= 400:
            failed.append(f"{params['response']['url'][:120]}: HTTP {params['response']['status']}")
    return failed


def open_deck(chrome, url: str) -> None:
    """Load a deck and wait until reveal.js is ready and MathJax has finished its queue."""
    chrome.get_log("performance")  # start from an empty log
    chrome.get(url)
    wait_until(lambda: chrome.execute_script(
        "return typeof Reveal !== 'undefined' && Reveal.isReady && Reveal.isReady()"), LOAD_DEADLINE,
        "reveal.js to be ready")
    math_settled(chrome)


def math_settled(chrome) -> None:
    """Wait until MathJax has worked through its queue (typesetting at load, re-rendering on a slide change)."""
    chrome.execute_script("window.mathDone = false; MathJax.Hub.Queue(() => { window.mathDone = true; });")
    wait_until(lambda: chrome.execute_script("return window.mathDone"), LOAD_DEADLINE, "MathJax to finish")


MEASURE = """
const width = Reveal.getConfig().width, height = Reveal.getConfig().height;
Reveal.configure({transition: 'none', backgroundTransition: 'none'});
const found = {overflow: [], images: [], slides: 0};
const slides = Reveal.getSlides();
slides.forEach((slide, i) => {
  const index = Reveal.getIndices(slide);
  Reveal.slide(index.h, index.v, 1000);  // every fragment shown
  const name = `slide ${i + 1} (${(slide.innerText || '').trim().split('\\n')[0].slice(0, 50)})`;
  if (slide.scrollHeight > height + 1 || slide.scrollWidth > width + 1) {
    found.overflow.push(`${name}: ${slide.scrollWidth} x ${slide.scrollHeight}`);
  }
  for (const box of slide.querySelectorAll('pre, .jp-OutputArea-output, .jp-RenderedHTMLCommon, table')) {
    if (box.scrollWidth > box.clientWidth + 1 && getComputedStyle(box).overflowX !== 'visible') {
      found.overflow.push(`${name}: ${box.className || box.tagName} scrolls sideways (${box.scrollWidth} px)`);
    }
  }
  for (const img of slide.querySelectorAll('img')) {
    found.images.push({complete: img.complete, width: img.naturalWidth, slide: name});
  }
});
Reveal.slide(0, 0, 0);
found.slides = slides.length;
return found;
"""


def _math_in(notebook) -> bool:
    return any("$" in cell.source for cell in slides.for_slides(notebook).cells
               if cell.cell_type == "markdown" and slides.slide_type(cell) not in ("skip", "notes"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem[:2] for p in NOTEBOOKS])
def test_deck_shows_every_slide_offline(path, server, offline_browser):
    chrome = offline_browser
    notebook = nbformat.read(path, as_version=4)
    assert slides.has_slides(notebook), (f"{path.name} has no slide metadata: give its cells slide types "
                                         "(cell metadata slideshow.slide_type) so that it has a lecture path")
    deck = slides.build_deck(path, DECKS)
    open_deck(chrome, f"{server}/{deck.name}")
    assert failed_requests(chrome) == []
    assert chrome.execute_script("return Reveal.getTotalSlides()") == slides.slide_count(notebook)
    found = chrome.execute_script(MEASURE)
    assert found["slides"] == slides.slide_count(notebook)
    assert found["overflow"] == [], "\n".join(found["overflow"])
    figures = sum(1 for cell in notebook.cells if slides.slide_type(cell) not in ("skip", "notes")
                  for output in cell.get("outputs", []) if "image/png" in output.get("data", {}))
    assert len(found["images"]) == figures  # every stored figure on a shown cell is on a slide...
    assert all(img["complete"] and img["width"] > 0 for img in found["images"]), found["images"]  # ...and drawn
    math_settled(chrome)  # after paging through: every slide's math is drawn
    math = chrome.execute_script("""  // the math on the slides (not in the hidden speaker notes)
        const jax = MathJax.Hub.getAllJax().filter(j => !j.SourceElement().closest('aside.notes'));
        const frame = j => document.getElementById(j.inputID + '-Frame');  // what MathJax drew, laid out
        return {jax: jax.length, drawn: jax.filter(j => frame(j) && frame(j).offsetWidth > 0).length,
                errors: document.querySelectorAll('.slides .mjx-merror, .slides merror').length}""")
    if _math_in(notebook):
        assert math["jax"] > 0 and math["drawn"] == math["jax"] and math["errors"] == 0, math
    assert failed_requests(chrome) == []  # MathJax's fonts and extensions, loaded while paging, too

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    chrome.execute_script("Reveal.slide(1, 0, 1000)")  # the first section's slide, its fragments shown
    math_settled(chrome)
    chrome.save_screenshot(str(SCREENSHOTS / f"slides-{path.stem}.png"))


def test_a_deck_opens_from_the_file_itself(server, offline_browser):
    """Relative paths to the libraries: the deck also works opened as a file (no server)."""
    chrome = offline_browser
    deck = slides.build_deck(NOTEBOOKS[1], DECKS)
    open_deck(chrome, deck.resolve().as_uri())
    assert failed_requests(chrome) == []
    assert chrome.execute_script("return Reveal.getTotalSlides()") == slides.slide_count(
        nbformat.read(NOTEBOOKS[1], as_version=4))


def test_the_web_is_really_cut_off(server, offline_browser):
    """The check that proves the others: a request outside 127.0.0.1 fails in this browser."""
    chrome = offline_browser
    chrome.get(f"{server}/")
    result = chrome.execute_async_script("""const done = arguments[arguments.length - 1];
        fetch('https://unpkg.com/reveal.js@4.0.2/dist/reveal.js', {mode: 'no-cors'})
          .then(() => done('loaded'), error => done('failed: ' + error));""")
    assert result.startswith("failed"), result
