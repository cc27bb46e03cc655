"""VisdomLogger against a real visdom server started by the test (127.0.0.1, a free port, a temp env folder)."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import warnings

import pytest

from conftest import free_port
from resnet_lessons.history import History, RunRecord
from resnet_lessons.lab.visdom_logger import VisdomLogger, port_answers, start_server

visdom = pytest.importorskip("visdom")


def make_history(epochs: int) -> History:
    h = History(record=RunRecord(model="tiny"))
    for e in range(1, epochs + 1):
        h.append(epoch=e, train_loss=2.0 / e, train_acc=0.5 + 0.1 * e, test_loss=2.5 / e,
                 test_acc=0.45 + 0.1 * e, lr=0.1, seconds=1.0, images_per_s=100.0)
    return h


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = free_port()
    env_path = tmp_path_factory.mktemp("visdom_env")
    proc = start_server(port=port, env_path=env_path, timeout=60)
    yield port, env_path
    proc.terminate()
    proc.wait(timeout=120)  # generous: the machine may be busy
    assert not port_answers("127.0.0.1", port)


def read_traces(port: int, env: str, win: str) -> dict[str, tuple[list, list]]:
    with warnings.catch_warnings():  # visdom 0.2.4 calls the deprecated logger.warn
        warnings.simplefilter("ignore", DeprecationWarning)
        viz = visdom.Visdom(server="http://127.0.0.1", port=port, env=env, use_incoming_socket=False,
                            raise_exceptions=True)
    window = json.loads(viz.get_window_data(win, env))
    return {trace["name"]: (trace["x"], trace["y"]) for trace in window["content"]["data"]}


def test_logged_points_read_back(server):
    port, env_path = server
    logger = VisdomLogger(env="test_env", port=port)
    assert logger.enabled
    full = make_history(3)
    for e in range(1, 4):  # what a trainer does: log after each epoch
        logger.log_epoch(make_history(e), "a")
        logger(make_history(e), model=None)  # callback form, default name "run"

    loss = read_traces(port, "test_env", logger.windows["loss"])
    error = read_traces(port, "test_env", logger.windows["error"])
    assert set(loss) == {"a train", "a test", "run train", "run test"}
    assert loss["a train"] == ([1.0, 2.0, 3.0], pytest.approx(full.train_loss))
    assert loss["run test"] == ([1.0, 2.0, 3.0], pytest.approx(full.test_loss))
    assert error["a test"] == ([1.0, 2.0, 3.0], pytest.approx([100 * e for e in full.test_err]))
    assert error["run train"][1] == pytest.approx([100 * e for e in full.train_err])
    # The server writes to the temp env folder, not to ~/.visdom.
    assert (env_path / "main.json").exists()


def test_title_names_the_windows(server):
    port, _ = server
    logger = VisdomLogger(env="titled", port=port, title="ResNet-20")
    logger.log_epoch(make_history(1), "r20")
    assert logger.windows == {"loss": "ResNet-20: loss", "error": "ResNet-20: error"}
    assert read_traces(port, "titled", "ResNet-20: loss")["r20 test"][1] == pytest.approx([2.5])


def test_start_server_refuses_a_busy_port(server):
    port, _ = server
    with pytest.raises(RuntimeError, match="already in use"):
        start_server(port=port)


def test_no_server_warns_once_and_stays_quiet(capsys):
    port = free_port()  # nothing listens there
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t0 = time.monotonic()
        logger = VisdomLogger(port=port)
        for e in range(1, 4):
            logger.log_epoch(make_history(e), "run")
            logger(make_history(e))
        elapsed = time.monotonic() - t0
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1, messages
    assert f"no server at http://127.0.0.1:{port}" in messages[0]
    assert "python -m resnet_lessons visdom" in messages[0]
    assert not logger.enabled
    out = capsys.readouterr()
    assert out.out == "" and len(out.err) < 300, out  # no traceback spam
    assert elapsed < 20  # a refused connection is immediate: no waiting (generous for a busy machine)


def test_bad_history_is_refused_clearly(server):
    port, _ = server
    logger = VisdomLogger(env="test_env", port=port)
    with pytest.raises(ValueError, match="no epochs"):
        logger.log_epoch(History())
    with pytest.raises(TypeError, match="History"):
        logger.log_epoch({"epoch": [1]})


def test_server_main_prints_the_url(tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "resnet_lessons.lab.visdom_logger", "--port", str(port), "--env-path", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines: list[str] = []

    def read_output():  # until the process exits; the test waits on what it has read, with a deadline
        for line in proc.stdout:
            lines.append(line)

    reader = threading.Thread(target=read_output, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 300  # generous: importing visdom takes long on a busy machine
        while not any("serving at" in line for line in lines) and proc.poll() is None:
            assert time.monotonic() < deadline, f"no 'serving at' line within 300 s: {lines}"
            time.sleep(0.1)
        assert any(f"http://127.0.0.1:{port}" in line for line in lines), lines
        assert port_answers("127.0.0.1", port)
        assert not any("missing" in line for line in lines), lines  # the page's files are in place
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=60) as page:
            assert page.status == 200 and b"visdom" in page.read()
        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
        proc.wait(timeout=300)  # waits for the exit; generous for a busy machine
        reader.join(timeout=60)
        rest = "".join(lines)
        assert proc.returncode == 0
        assert "visdom: stopped." in rest
        assert "Could not open static file" not in rest
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=120)


# ----------------------------------------------------------------------------------------------
# a server that stops answering must not hang training
# ----------------------------------------------------------------------------------------------

def run_with_deadline(work, deadline: float):
    """Run ``work()`` in a thread; return (finished, seconds). A hang shows up as finished=False."""
    done = threading.Event()
    started = time.monotonic()

    def target():
        work()
        done.set()

    threading.Thread(target=target, daemon=True).start()
    finished = done.wait(deadline)
    return finished, time.monotonic() - started


def test_a_frozen_server_costs_one_warning_then_the_logger_is_off(tmp_path):
    """The server stopped with SIGSTOP (Ctrl-Z in its terminal) in the middle of a run."""
    port = free_port()
    proc = start_server(port=port, env_path=tmp_path, timeout=120)
    try:
        logger = VisdomLogger(env="frozen", port=port, timeout=2.0)
        assert logger.enabled
        logger.log_epoch(make_history(1), "run")  # answered
        os.kill(proc.pid, signal.SIGSTOP)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            finished, seconds = run_with_deadline(lambda: logger.log_epoch(make_history(2), "run"), 120)
            assert finished, "log_epoch still blocked 120 s after the server froze"
            messages = [str(w.message) for w in caught]
            assert len(messages) == 1, messages
            assert "stopped answering" in messages[0] and f"127.0.0.1:{port}" in messages[0]
            assert not logger.enabled
            # The rest of the run: nothing is sent, nothing waits, nothing more is said.
            finished, later = run_with_deadline(lambda: [logger.log_epoch(make_history(e)) for e in (3, 4)], 60)
            assert finished and later < 1.0
            assert len(caught) == 1
        assert seconds < 60  # one call's timeout (2 s), not for ever; generous for a busy machine
    finally:
        os.kill(proc.pid, signal.SIGCONT)
        proc.terminate()
        proc.wait(timeout=120)


def test_a_port_that_never_answers_costs_one_warning(tmp_path):
    """Something listens on the port but never accepts: the logger gives up at creation, once."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # connections complete in the kernel's queue; no one ever reads them
    port = listener.getsockname()[1]
    box = {}
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")

            def work():
                box["logger"] = VisdomLogger(env="silent", port=port, timeout=2.0)
                for e in (1, 2, 3):
                    box["logger"].log_epoch(make_history(e), "run")

            finished, seconds = run_with_deadline(work, 120)
            assert finished, "VisdomLogger still blocked 120 s on a port that never answers"
        messages = [str(w.message) for w in caught]
        assert len(messages) == 1, messages
        assert "does not answer" in messages[0] and "python -m resnet_lessons visdom" in messages[0]
        assert not box["logger"].enabled
        assert seconds < 60
    finally:
        listener.close()


def test_timeout_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        VisdomLogger(port=free_port(), timeout=0)


# ----------------------------------------------------------------------------------------------
# the web page's files from the npm registry (resnet_lessons.lab.visdom_assets)
# ----------------------------------------------------------------------------------------------

def test_page_files_are_pinned_to_visdoms_own_list():
    """Every file visdom 0.2.4's first-start download writes is among ours, under the same name."""
    from resnet_lessons.lab import visdom_assets

    build = (visdom_assets.static_dir().parent / "server" / "build.py").read_text()
    ours = {dest.rsplit("/", 1)[-1] for p in visdom_assets.PACKAGES for dest in p.files.values()}
    for name in ("jquery.min.js", "bootstrap.min.js", "react-react.min.js", "react-dom.min.js", "plotly-plotly.min.js",
                 "d3.v3.min.js", "bootstrap.min.css", "layout_bin_packer.js", "MathJax.js"):
        assert name in build and name in ours, name
    # The versions visdom's list names.
    for spec in ("jquery@3.1.1", "bootstrap@3.3.7", "react@16.2.0", "react-dom@16.2.0", "plotly-2.11.1",
                 "sjcl@1.0.7", "save-svg-as-png@1.4.17", "react-grid-layout@0.16.3", "mathjax/2.7.5"):
        assert spec in build, spec
    versions = {p.name: p.version for p in visdom_assets.PACKAGES}
    assert versions["jquery"] == "3.1.1" and versions["plotly.js-dist-min"] == "2.11.1"
    assert versions["react"] == versions["react-dom"] == "16.2.0" and versions["mathjax"] == "2.7.5"


def test_a_tampered_download_is_refused(tmp_path, monkeypatch):
    """Bytes that do not match the pinned sha512 are not unpacked, and not kept in the cache."""
    from resnet_lessons.lab import npm, visdom_assets

    class FakeResponse(io.BytesIO):
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(npm.shutil, "which", lambda name: None)  # no npm: plain HTTPS download
    monkeypatch.setattr(npm.urllib.request, "urlopen", lambda url, timeout: FakeResponse(b"not a tarball"))
    with pytest.raises(visdom_assets.AssetsError, match="sha512"):
        visdom_assets.install(static=tmp_path / "static", cache=tmp_path / "cache")
    assert not list((tmp_path / "cache").glob("*.tgz"))
    assert len(visdom_assets.missing(tmp_path / "static")) == sum(len(p.files) for p in visdom_assets.PACKAGES)


def test_no_registry_gives_one_line_saying_what_to_do(tmp_path, monkeypatch, capsys):
    from resnet_lessons.lab import npm, visdom_assets

    def offline(url, timeout):
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(npm.shutil, "which", lambda name: None)
    monkeypatch.setattr(npm.urllib.request, "urlopen", offline)
    monkeypatch.setattr(visdom_assets, "static_dir", lambda: tmp_path / "static")
    monkeypatch.setattr(visdom_assets, "default_cache", lambda: tmp_path / "cache")
    assert visdom_assets.main() == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "29 missing" in err and "npm registry" in err and "python -m resnet_lessons.lab.visdom_assets" in err


def test_page_files_unpack_from_the_cache(tmp_path):
    """From the tarballs `make install` fetched (or the registry, once): all files in place, then nothing to do."""
    from resnet_lessons.lab import visdom_assets

    written = visdom_assets.install(static=tmp_path / "static")
    assert len(written) == 29 and visdom_assets.missing(tmp_path / "static") == []
    assert (tmp_path / "static" / "js" / "jquery.min.js").read_bytes().startswith(b"/*! jQuery v3.1.1")
    assert visdom_assets.install(static=tmp_path / "static") == []


def test_the_server_serves_the_page_files(server):
    port, _ = server
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/static/js/plotly-plotly.min.js", timeout=60) as page:
        assert page.status == 200 and b"plotly.js v2.11.1" in page.read(300)
