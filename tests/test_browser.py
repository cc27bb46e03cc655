"""The two web pages a student opens, driven in headless Chromium: JupyterLab and visdom.

- JupyterLab, started as `make lab` starts it (here with --no-browser on a free port, stopped by its
  PID), opens a copy of notebooks/00_setup.ipynb with one short training cell added, runs all cells
  from the Run menu, and shows: no error output, the progress bar widget while training, figure
  images; saved and reopened after its kernel is gone, it shows no "Error displaying widget".
- visdom, started with `python -m resnet_lessons visdom`, receives a short `train --visdom` run and
  its page draws both windows' curves (Plotly SVG traces) with no console error.

Screenshots go to build/screenshots/ (CI keeps them as artifacts). The tests skip, saying why, where
Chromium, its driver or selenium is missing (Debian: `apt-get install chromium chromium-driver`;
.ci/run installs them; selenium comes with the test extra). Every wait is on a condition with a
generous deadline: these tests must pass on a busy 2-core machine.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from test_notebook_outputs import problems  # the same reading of a stored notebook

from conftest import free_port

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "build" / "screenshots"
BIN = Path(sys.executable).parent
START_DEADLINE = 300.0  # seconds for a server to come up on a busy machine
RUN_DEADLINE = 900.0  # seconds for all cells of the notebook to run


# ----------------------------------------------------------------------------------------------
# the browser
# ----------------------------------------------------------------------------------------------

def _chromium() -> tuple[str, str]:
    pytest.importorskip("selenium", reason="selenium is not installed (pip install -e '.[test]')")
    browser = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)),
                   None)
    driver = shutil.which("chromedriver")
    if browser is None or driver is None:
        pytest.skip("needs Chromium and chromedriver on PATH (Debian: apt-get install chromium chromium-driver; "
                    ".ci/run installs them)")
    return browser, driver


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    binary, driver = _chromium()
    options = Options()
    options.binary_location = binary
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1400,1000", "--no-first-run"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    chrome = webdriver.Chrome(service=Service(driver), options=options)
    chrome.set_page_load_timeout(START_DEADLINE)
    try:
        yield chrome
    finally:
        chrome.quit()


def wait_until(condition, deadline: float, what: str, every: float = 0.25):
    """Poll ``condition()`` until it returns something true; fail after ``deadline`` seconds."""
    end = time.monotonic() + deadline
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"waited {deadline:.0f} s for {what}")
        time.sleep(every)


def screenshot(chrome, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    chrome.save_screenshot(str(path))
    return path


def console_errors(chrome) -> list[str]:
    return [entry["message"] for entry in chrome.get_log("browser") if entry["level"] == "SEVERE"]


class OutputReader:
    """Collects a process's output lines in a thread, so a test can wait for a line with a deadline."""

    def __init__(self, proc: subprocess.Popen):
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc):
        for line in proc.stdout:
            self.lines.append(line)

    def text(self) -> str:
        return "".join(self.lines)


def stop(proc: subprocess.Popen) -> None:
    """Stop a server we started, by its PID, and wait for it (generously)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=60)


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status == 200
    except OSError:
        return False


# ----------------------------------------------------------------------------------------------
# JupyterLab
# ----------------------------------------------------------------------------------------------

TRAINING_CELL = """\
# NBVAL_IGNORE_OUTPUT
# Added by tests/test_browser.py: a short training run with its progress bars and live figure.
from dataclasses import replace

from resnet_lessons.plots import LivePlot
from resnet_lessons.recipes import ONECYCLE
from resnet_lessons.train import fit

history = fit(build_model("resnet8"), data.subset(400, 200, seed=0), 2, replace(ONECYCLE, batch_size=20),
              name="resnet-8", callbacks=[LivePlot(title="resnet-8")])
"""


@pytest.fixture
def lab(tmp_path):
    """JupyterLab on a copy of 00_setup.ipynb (plus a training cell), as `make lab` starts it."""
    nbformat = pytest.importorskip("nbformat")
    if not (BIN / "jupyter-lab").exists():
        pytest.skip("JupyterLab is not installed (pip install -e '.[lab]')")
    if not os.environ.get("RESNET_LESSONS_DATA"):
        pytest.skip("needs the offline CIFAR-10 copy named by $RESNET_LESSONS_DATA")
    folder = tmp_path / "notebooks"
    folder.mkdir()
    notebook = nbformat.read(ROOT / "notebooks" / "00_setup.ipynb", as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(TRAINING_CELL))
    for cell in notebook.cells:  # start from a clean notebook: every output the test sees is its own
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    path = folder / "00_setup.ipynb"
    nbformat.write(notebook, path)

    port, token = free_port(), secrets.token_hex(16)
    env = {**os.environ, "RESNET_LESSONS_FAST": "1", "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"),
           "RESNET_LESSONS_PROGRESS": "1"}  # bars on, as a student sees them (tests/conftest.py turns them off)
    env.pop("MPLBACKEND", None)  # kernels draw inline, as in a student's JupyterLab
    root_flag = ["--allow-root"] if os.geteuid() == 0 else []  # as the Makefile adds it
    command = [str(BIN / "jupyter"), "lab", f"--notebook-dir={folder}", *root_flag, "--no-browser",
               f"--port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}"]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            stdin=subprocess.DEVNULL)
    log = OutputReader(proc)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: proc.poll() is not None or http_ok(f"{base}/api/status?token={token}"),
                   START_DEADLINE, "JupyterLab to answer")
        assert proc.poll() is None, f"JupyterLab exited:\n{log.text()[-3000:]}"
        yield {"base": base, "token": token, "path": path, "log": log}
    finally:
        stop(proc)


def _code_prompts(chrome) -> list[str]:
    return chrome.execute_script(
        "return [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(e => e.textContent.trim())")


def _open_notebook(chrome, lab) -> None:
    from selenium.webdriver.common.by import By

    chrome.get(f"{lab['base']}/lab/tree/{lab['path'].name}?token={lab['token']}")
    wait_until(lambda: chrome.find_elements(By.CSS_SELECTOR, ".jp-NotebookPanel .jp-CodeCell"),
               START_DEADLINE, "the notebook to open")

    def kernel_ready() -> bool:
        accept = chrome.find_elements(By.CSS_SELECTOR, ".jp-Dialog .jp-mod-accept")
        if accept:  # "Select Kernel" (shown when the kernel is slow to start): the default, as a student would
            accept[0].click()
        return chrome.execute_script("""
            const name = document.querySelector('.jp-NotebookPanel .jp-KernelName');
            const status = document.querySelector('.jp-NotebookPanel .jp-Notebook-ExecutionIndicator');
            return Boolean(name && !name.textContent.includes('No Kernel') && status
                           && status.getAttribute('data-status') === 'idle');""")

    wait_until(kernel_ready, START_DEADLINE, "the kernel to start and be idle")


def _menu(chrome, menu: str, command: str) -> None:
    from selenium.webdriver.common.by import By

    chrome.find_element(By.XPATH, f"//div[contains(@class, 'lm-MenuBar-itemLabel') and text()='{menu}']").click()
    wait_until(lambda: chrome.find_elements(By.CSS_SELECTOR, f"li[data-command='{command}']"), 60,
               f"the {menu} menu")[0].click()


def _save(chrome) -> None:
    """Ctrl+S in the notebook, as a student saves."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    chrome.find_element(By.CSS_SELECTOR, ".jp-NotebookPanel .jp-Cell").click()
    ActionChains(chrome).key_down(Keys.CONTROL).send_keys("s").key_up(Keys.CONTROL).perform()


def test_jupyterlab_runs_the_notebook_with_widgets_and_figures(browser, lab):
    chrome = browser
    _open_notebook(chrome, lab)
    code_cells = len(_code_prompts(chrome))
    _menu(chrome, "Run", "runmenu:run-all")  # Run > Run All Cells

    saw = {"widget": False}

    def settled() -> bool:
        if chrome.execute_script("return document.querySelectorAll("
                                 "'.jp-OutputArea-output .widget-hprogress, .jp-OutputArea-output .widget-progress')"
                                 ".length > 0"):
            saw["widget"] = True  # the progress bar rendered as a live widget
        prompts = _code_prompts(chrome)
        # Run All stops at a cell that raises; either way no cell is left waiting ("[*]:").
        return any(p[1:-2].strip().isdigit() for p in prompts) and not any("*" in p for p in prompts)

    try:
        wait_until(settled, RUN_DEADLINE, f"the {code_cells} code cells to run", every=0.1)
    finally:
        screenshot(chrome, "jupyterlab-after-run.png")
    page = chrome.execute_script("return document.querySelector('.jp-NotebookPanel').innerText")
    assert "Traceback" not in page and "Error" not in chrome.execute_script(
        "return [...document.querySelectorAll('[data-mime-type=\"application/vnd.jupyter.stderr\"]')]"
        ".map(e => e.innerText).join(' ')"), page[max(0, page.find("Error") - 1500):][:3000]
    prompts = [p for p in _code_prompts(chrome) if p]  # a collapsed "Solution" cell shows no prompt
    assert all(p[1:-2].strip().isdigit() for p in prompts), prompts  # "[12]:" everywhere: every cell ran
    assert saw["widget"], "no progress bar widget was seen while the training cell ran"
    assert "Error displaying widget" not in page
    images = chrome.execute_script(
        "return [...document.querySelectorAll('.jp-OutputArea-output img')]"
        ".filter(i => i.src.startsWith('data:image/png') && i.naturalWidth > 100).length")
    assert images >= 2, f"{images} figure image(s) on the page; expected the sample grid and the live curves"
    assert "resnet-8: 100%" in page  # the finished bar, left as text

    # Save, stop the kernel, reopen: what a student sees the next day.
    mtime = lab["path"].stat().st_mtime
    _save(chrome)
    wait_until(lambda: lab["path"].stat().st_mtime > mtime, 120, "the notebook to be saved")
    saved = json.loads(lab["path"].read_text())
    assert problems(saved) == []
    kernels_url = f"{lab['base']}/api/kernels?token={lab['token']}"
    with urllib.request.urlopen(kernels_url, timeout=30) as response:
        kernels = json.load(response)
    for kernel in kernels:
        request = urllib.request.Request(f"{lab['base']}/api/kernels/{kernel['id']}?token={lab['token']}",
                                         method="DELETE")
        urllib.request.urlopen(request, timeout=60).close()
    _open_notebook(chrome, lab)
    wait_until(lambda: chrome.execute_script(
        "return document.querySelectorAll('.jp-OutputArea-output img').length >= 2"), 120,
        "the stored figures to show")
    time.sleep(2)  # widget views that fail do so right after rendering
    screenshot(chrome, "jupyterlab-reopened.png")
    page = chrome.execute_script("return document.querySelector('.jp-NotebookPanel').innerText")
    assert "Error displaying widget" not in page and "model not found" not in page
    # (JupyterLab renders only the cells in view, so the finished bar is checked in the saved file.)
    assert "resnet-8: 100%" in lab["path"].read_text()


# ----------------------------------------------------------------------------------------------
# visdom
# ----------------------------------------------------------------------------------------------

@pytest.fixture
def tiny_data(tmp_path) -> Path:
    """train/<class>/ (20 each) and test/<class>/ (10 each) copied from the offline CIFAR-10 copy."""
    source = os.environ.get("RESNET_LESSONS_DATA")
    if not source or not (Path(source) / "train").is_dir():
        pytest.skip("needs the CIFAR-10 ImageFolder copy named by $RESNET_LESSONS_DATA")
    root = tmp_path / "cifar-mini"
    for split, n in (("train", 20), ("test", 10)):
        for class_dir in sorted((Path(source) / split).iterdir()):
            (root / split / class_dir.name).mkdir(parents=True)
            for image in sorted(class_dir.iterdir())[:n]:
                shutil.copy(image, root / split / class_dir.name / image.name)
    return root


def test_visdom_page_draws_a_training_run(browser, tiny_data, tmp_path):
    pytest.importorskip("visdom")
    port = free_port()
    env = {**os.environ, "RESNET_LESSONS_VISDOM_PORT": str(port), "RESNET_LESSONS_CACHE": str(tmp_path / "cache"),
           "MPLBACKEND": "Agg"}
    if "RESNET_LESSONS_CACHE" in os.environ:  # the npm tarballs already fetched by `make install`
        env["RESNET_LESSONS_CACHE"] = os.environ["RESNET_LESSONS_CACHE"]
    server = subprocess.Popen([sys.executable, "-m", "resnet_lessons", "visdom", "--env-path", str(tmp_path / "env")],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              stdin=subprocess.DEVNULL)
    log = OutputReader(server)
    try:
        wait_until(lambda: server.poll() is not None or "serving at" in log.text(), START_DEADLINE,
                   "the visdom server to start")
        assert server.poll() is None, log.text()
        assert "missing" not in log.text(), log.text()  # its page files are in place

        train = subprocess.run(
            [sys.executable, "-m", "resnet_lessons", "train", "--model", "resnet8", "--epochs", "2",
             "--data", str(tiny_data), "--batch-size", "50", "--out", str(tmp_path / "run"), "--no-progress",
             "--visdom", "browser-test"],
            env={**env, "RESNET_LESSONS_CACHE": str(tmp_path / "data-cache")}, capture_output=True, text=True,
            timeout=RUN_DEADLINE)
        assert train.returncode == 0, train.stderr
        assert "visdom:" not in train.stderr, train.stderr  # no "no server" / "stopped answering" warning

        chrome = browser
        chrome.get(f"http://127.0.0.1:{port}/env/browser-test")

        def drawn_windows():
            return chrome.execute_script("""
                return [...document.querySelectorAll('.js-plotly-plot')].map(plot => ({
                    title: plot.querySelector('.gtitle') ? plot.querySelector('.gtitle').textContent : '',
                    traces: [...plot.querySelectorAll('.scatterlayer .trace')].filter(t =>
                        [...t.querySelectorAll('path.js-line, path.point')].some(p =>
                            (p.getAttribute('d') || '').length > 10)).length}));""")

        windows = wait_until(lambda: [w for w in drawn_windows() if w["traces"] >= 2], START_DEADLINE,
                             "visdom to draw the loss and error windows")
        wait_until(lambda: len([w for w in drawn_windows() if w["traces"] >= 2]) >= 2, 60, "both windows")
        time.sleep(1)
        windows = drawn_windows()
        screenshot(chrome, "visdom-after-training.png")
        titles = " ".join(w["title"] for w in windows)
        assert "loss" in titles and "error" in titles, windows
        assert all(w["traces"] >= 2 for w in windows), windows  # train and test curves in each window
        assert console_errors(chrome) == []
    finally:
        stop(server)
