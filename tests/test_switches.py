"""Switches accept only their documented values; a misspelt RESNET_LESSONS_* variable gets one warning; a port
that is not a visdom server, or out of range, is said so (resnet_lessons.config, resnet_lessons.lab.visdom_logger)."""

from __future__ import annotations

import http.server
import subprocess
import sys
import threading
import warnings

import pytest

from resnet_lessons import config
from resnet_lessons.history import History, RunRecord
from resnet_lessons.lab.visdom_logger import VisdomLogger, server_main


@pytest.mark.parametrize("value", ["off", "0", 0, 1, None, "yes"])
def test_set_fast_takes_only_true_or_false(monkeypatch, value):
    monkeypatch.setenv(config.FAST_ENV, "0")
    with pytest.raises(TypeError, match=r"set_fast takes True or False"):
        config.set_fast(value)
    assert config.is_fast() is False  # nothing switched


def test_set_fast_true_and_false_still_work(monkeypatch):
    monkeypatch.setenv(config.FAST_ENV, "0")
    config.set_fast(True)
    assert config.is_fast()
    config.set_fast(False)
    assert not config.is_fast()


def test_a_misspelt_variable_is_named_with_the_nearest_known_one(monkeypatch):
    monkeypatch.setenv("RESNET_LESSON_FAST", "1")
    monkeypatch.setenv("RESNET_LESSONS_CPUBF16", "1")
    messages = config.unknown_variables()
    assert any("RESNET_LESSON_FAST" in m and "RESNET_LESSONS_FAST" in m for m in messages), messages
    assert any("RESNET_LESSONS_CPUBF16" in m and "RESNET_LESSONS_CPU_BF16" in m for m in messages), messages
    monkeypatch.delenv("RESNET_LESSON_FAST")
    monkeypatch.delenv("RESNET_LESSONS_CPUBF16")
    assert not any("RESNET_LESSON_FAST" in m or "CPUBF16" in m for m in config.unknown_variables())


def test_every_variable_the_package_reads_is_known():
    """A variable the package reads is never reported as unknown (the tests themselves set RESNET_LESSONS_PROGRESS)."""
    import re
    from pathlib import Path

    package = Path(config.__file__).parent
    read = {name for path in package.rglob("*.py")
            for name in re.findall(r"RESNET_LESSONS_[A-Z0-9_]*[A-Z0-9]", path.read_text())}
    assert "RESNET_LESSONS_PROGRESS" in read
    assert sorted(read - set(config.KNOWN_VARIABLES)) == []


@pytest.mark.parametrize("value", ["maybe", "2", "offf"])
def test_the_progress_switch_takes_only_its_documented_values(monkeypatch, value):
    monkeypatch.setenv(config.PROGRESS_ENV, value)
    with pytest.raises(ValueError, match=rf"RESNET_LESSONS_PROGRESS='{value}' is not understood"):
        config.show_progress()
    with pytest.raises(TypeError, match="set_progress takes True or False"):
        config.set_progress("off")
    config.set_progress(False)
    assert config.show_progress() is False


def test_importing_the_package_warns_once_about_an_unknown_variable():
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("RESNET_LESSON")}
    env["RESNET_LESSON_FAST"] = "1"
    done = subprocess.run([sys.executable, "-c", "import resnet_lessons, resnet_lessons.config, resnet_lessons.train"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("RESNET_LESSON_FAST") == 1, done.stderr
    assert "RESNET_LESSONS_FAST" in done.stderr


class _NotVisdom(http.server.BaseHTTPRequestHandler):
    """Any other web server: it answers every request, but not as visdom does (501 for POST)."""

    def log_message(self, *args):
        pass


def _history(epochs: int) -> History:
    h = History(record=RunRecord(model="tiny"))
    for e in range(1, epochs + 1):
        h.append(epoch=e, train_loss=1.0, train_acc=0.5, test_loss=1.0, test_acc=0.5, lr=0.1, seconds=1.0,
                 images_per_s=1.0)
    return h


def test_a_web_server_that_is_not_visdom_is_reported_once_and_training_goes_on():
    pytest.importorskip("visdom")
    httpd = http.server.HTTPServer(("127.0.0.1", 0), _NotVisdom)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            logger = VisdomLogger(env="x", port=httpd.server_address[1], timeout=10)
            for e in (1, 2, 3):
                logger.log_epoch(_history(e))  # no error: training goes on
        messages = [str(w.message) for w in caught if "visdom" in str(w.message)]
        assert len(messages) == 1, messages
        assert "not a visdom server" in messages[0] and "501" in messages[0]
        assert not logger.enabled
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.parametrize("port", [0, -1, 65536, 99999])
def test_ports_outside_1_to_65535_are_refused(port, capsys):
    assert server_main(["--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert f"--port {port}" in err and "1 to 65535" in err
    with pytest.raises(ValueError, match="1 to 65535"):
        VisdomLogger(port=port)
