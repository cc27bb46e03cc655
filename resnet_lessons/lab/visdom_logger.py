"""Send training curves to a visdom server, and start one.

visdom (https://github.com/fossasia/visdom) shows plots in a browser page that updates while a run trains,
even one in another process. The course works without it: the notebooks draw their curves with matplotlib,
and :class:`VisdomLogger` quietly does nothing when no server answers. ::

    python -m resnet_lessons visdom --port 8097          # serve until Ctrl-C

    logger = VisdomLogger(env="resnet_lessons")
    fit(model, data, epochs=5, callbacks=[logger])       # or logger.log_epoch(history, "resnet20")

visdom's pip package lacks the libraries its page loads (Plotly, jQuery...); our server fetches them once
from the npm registry (:mod:`resnet_lessons.lab.visdom_assets`), after which the page needs no network.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path
from urllib.parse import urlparse

from ..history import History

DEFAULT_PORT = 8097  # visdom's own default
PORT_VARIABLE = "RESNET_LESSONS_VISDOM_PORT"  # another port for both the server and `train --visdom`
HOST = "127.0.0.1"
# Seconds the client waits for the server to answer one call. A stopped server (Ctrl-Z) or a port that
# accepts connections but never answers costs this once: the logger then warns and switches itself off.
CALL_TIMEOUT = 5.0


def default_port() -> int:
    """The port of our visdom server: ``$RESNET_LESSONS_VISDOM_PORT`` when set, else 8097."""
    value = os.environ.get(PORT_VARIABLE, "").strip()
    if not value:
        return DEFAULT_PORT
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise ValueError(f"{PORT_VARIABLE}={value!r} is not a port number (1 to 65535); "
                         f"set it to one, or unset it for visdom's default {DEFAULT_PORT}.")
    return int(value)


def check_port(port: object, name: str = "port") -> int:
    """``port`` when it is a TCP port number (1 to 65535), else ValueError naming ``name`` (e.g. ``--port``)."""
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        shown = f"{name} {port}" if name.startswith("--") else f"{name}={port!r}"
        raise ValueError(f"{shown} is not a port number: give one from 1 to 65535 (visdom's default is "
                         f"{DEFAULT_PORT}).")
    return port


def port_answers(host: str, port: int, timeout: float = 0.3) -> bool:
    """True when something accepts a TCP connection on ``host:port`` (a quick probe, no HTTP)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def default_env_path() -> Path:
    """Where our servers keep visdom's saved environments: ``<cache_dir>/visdom``."""
    from resnet_lessons.config import cache_dir

    return cache_dir() / "visdom"


# --- the server ---

# Run in the child process: visdom's own start function, without its script download.
# base_url must be "" for the root (visdom's own command line turns "/" into "" before this call).
_SERVE_CODE = (
    "import sys\n"
    "from visdom.server.run_server import start_server\n"
    "start_server(port=int(sys.argv[1]), env_path=sys.argv[2], bind_local=True, base_url='',\n"
    "             print_func=lambda port: print('visdom serving on port', port, flush=True))\n"
)


def start_server(port: int | None = None, env_path: str | os.PathLike | None = None, wait: bool = True,
                 timeout: float = 30.0) -> subprocess.Popen:
    """Start a visdom server on 127.0.0.1:``port`` in a child process and return the process.

    env_path: folder where visdom saves environments (default ``<cache_dir>/visdom``); the server's output goes
    to ``<env_path>/server.log``. wait: return only once the port answers (up to ``timeout`` seconds; importing
    visdom takes a few). Stop it with ``proc.terminate(); proc.wait()``.
    """
    port = default_port() if port is None else port
    if port_answers(HOST, port):
        raise RuntimeError(f"Port {port} on {HOST} is already in use (maybe a visdom server is running: "
                           f"open http://{HOST}:{port}). Use that server, stop it, or pick another port.")
    env_path = Path(env_path) if env_path is not None else default_env_path()
    env_path.mkdir(parents=True, exist_ok=True)
    log_path = env_path / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-c", _SERVE_CODE, str(port), str(env_path)],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    if not wait:
        return proc
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"The visdom server exited with code {proc.returncode}:\n{tail}")
        if port_answers(HOST, port):
            return proc
        time.sleep(0.1)
    proc.terminate()
    proc.wait(timeout=60)
    raise RuntimeError(f"The visdom server did not answer on port {port} within {timeout:.0f} s; see {log_path}.")


def server_main(argv: list[str] | None = None) -> int:
    """``python -m resnet_lessons visdom [--port N] [--env-path DIR]``: serve until Ctrl-C."""
    description = "Start a visdom server on this computer only (127.0.0.1), without downloading anything."
    parser = argparse.ArgumentParser(prog="python -m resnet_lessons visdom", description=description)
    parser.add_argument("--port", type=int, default=None, help=f"port (default ${PORT_VARIABLE}, else {DEFAULT_PORT})")
    parser.add_argument("--env-path", default=None, help="folder for saved environments (default: <cache>/visdom)")
    args = parser.parse_args(argv)
    try:
        args.port = default_port() if args.port is None else check_port(args.port, "--port")
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        from visdom.server.run_server import start_server as visdom_start_server
    except ImportError:
        print("visdom is not installed: pip install 'resnet-lessons[visdom]'", file=sys.stderr)
        return 1
    if port_answers(HOST, args.port):
        print(f"Port {args.port} is already in use (a visdom server may be running at "
              f"http://{HOST}:{args.port}); pick another with --port.", file=sys.stderr)
        return 1
    env_path = Path(args.env_path) if args.env_path else default_env_path()
    env_path.mkdir(parents=True, exist_ok=True)
    page_problem = _put_page_files_in_place()

    def announce(port: int) -> None:
        print(f"visdom: serving at http://{HOST}:{port} (environments saved in {env_path}); Ctrl-C stops it.")
        if page_problem:
            print(page_problem)
        sys.stdout.flush()

    # Without those files every page load logs a dozen "Could not open static file" errors and 404s;
    # the message above already says why, so keep the terminal readable.
    logging.getLogger("tornado.general").addFilter(
        lambda record: not record.getMessage().startswith("Could not open static file"))
    logging.getLogger("tornado.access").setLevel(logging.ERROR)
    # A process started in the background by a shell script inherits SIGINT ignored; then Ctrl-C (or
    # `kill -INT`) would never stop the server. Python's own handler turns SIGINT into KeyboardInterrupt.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        visdom_start_server(port=args.port, env_path=str(env_path), bind_local=True, base_url="", print_func=announce)
    except KeyboardInterrupt:
        print("visdom: stopped.")
    return 0


def _put_page_files_in_place() -> str | None:
    """Fetch the web page's missing files from the npm registry; None when the page is ready, else one line."""
    from . import visdom_assets

    if not visdom_assets.missing():
        return None
    print("visdom: fetching its web page's files from the npm registry (once)...", flush=True)
    try:
        visdom_assets.install()
    except visdom_assets.AssetsError as e:
        return (f"visdom: {len(visdom_assets.missing())} of the web page's files are missing and {e}, so the page "
                f"will show no plots (the curves are still stored; the notebooks draw them). To get the page, "
                f"{visdom_assets.HOW_TO_GET_THEM}.")
    return None


# --- the client ---


class ServerTimeout(Exception):
    """The visdom server took longer than the timeout to answer one call."""


class NotVisdom(Exception):
    """Something answered on the port, but with an HTTP error: another program, not a visdom server."""


def _timed_client(timeout: float, **kwargs):
    """A ``visdom.Visdom`` client whose every call to the server gives up after ``timeout`` seconds.

    visdom's own client posts with no timeout, so a server that stops answering blocks the caller for ever;
    its ``_handle_post`` (the one place that talks to the server) is meant to be overridden.
    """
    import requests
    import visdom

    class TimedVisdom(visdom.Visdom):
        def _handle_post(self, url, data=None):
            try:
                try:
                    answer = self.session.post(url, data=data or {}, timeout=timeout)
                except requests.ConnectionError:
                    # A kept-alive connection that the server closed meanwhile (epochs can be minutes
                    # apart): one retry on a fresh connection. A server that is gone refuses it at once.
                    answer = self.session.post(url, data=data or {}, timeout=timeout)
            except requests.Timeout as e:
                raise ServerTimeout(f"no answer within {timeout:g} s") from e
            if not answer.ok:  # visdom answers 200; another web server on the port answers 404, 501...
                raise NotVisdom(f"HTTP {answer.status_code} {answer.reason}")
            return answer.text

    return TimedVisdom(**kwargs)


class VisdomLogger:
    """Send a run's per-epoch loss and error to visdom: one window for loss, one for error (%).

    Each run name gets two traces per window, ``"<name> train"`` and ``"<name> test"``.
    If no server answers at creation, it warns once and every later call does nothing; if the server
    goes away or stops answering during a run (each call waits at most ``timeout`` seconds), it warns
    once more and stops sending.

    Use it as a trainer callback (``fit(..., callbacks=[logger])`` calls ``logger(history, model)``)
    or call ``logger.log_epoch(history, name)`` after each epoch.
    """

    def __init__(self, env: str = "resnet_lessons", server: str = f"http://{HOST}", port: int | None = None,
                 title: str | None = None, name: str = "run", timeout: float = CALL_TIMEOUT):
        if not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}.")
        port = default_port() if port is None else check_port(port)
        self.env = env
        self.server = server
        self.port = port
        self.title = title
        self.name = name
        self.url = f"{server}:{port}"
        prefix = f"{title}: " if title else ""
        self.windows = {"loss": f"{prefix}loss", "error": f"{prefix}error"}  # visdom window ids
        self.viz = None
        host = urlparse(server if "://" in server else f"http://{server}").hostname or server
        if not port_answers(host, port):
            self._give_up(f"no server at {self.url}")
            return
        try:
            import visdom  # noqa: F401  (only to say clearly when it is missing)
        except ImportError:
            self._give_up("the visdom package is not installed")
            return
        # visdom's client logs "Setting up a new session..." and more at WARNING level on every start.
        logging.getLogger("visdom").setLevel(logging.ERROR)
        try:
            with warnings.catch_warnings():  # visdom 0.2.4 calls the deprecated logger.warn
                warnings.simplefilter("ignore", DeprecationWarning)
                self.viz = _timed_client(timeout, server=server, port=port, env=env, use_incoming_socket=False,
                                         raise_exceptions=True)
        except ServerTimeout as e:  # the port accepts connections, but nothing answers
            self._give_up(f"the server at {self.url} does not answer ({e})")
        except NotVisdom as e:
            self._give_up(f"the program answering at {self.url} is not a visdom server ({e})")
        except Exception as e:  # the port answered, but not as a visdom server
            self._give_up(f"no visdom server at {self.url} ({type(e).__name__})")

    @property
    def enabled(self) -> bool:
        """True while curves are being sent."""
        return self.viz is not None

    def _give_up(self, why: str) -> None:
        self.viz = None
        warnings.warn(f"visdom: {why}; curves go to the notebook only. "
                      "Start one with `python -m resnet_lessons visdom`.", stacklevel=3)

    def log_epoch(self, history: History, name: str | None = None) -> None:
        """Append the latest epoch of ``history`` (train/test loss and error) to the two windows."""
        if self.viz is None:
            return
        if not isinstance(history, History):
            raise TypeError(f"history must be a History, not {type(history).__name__}.")
        if len(history) == 0:
            raise ValueError("history has no epochs yet: call log_epoch after an epoch has finished.")
        name = name or self.name
        epoch = history.epoch[-1]
        points = {  # (window, split): the epoch's value
            ("loss", "train"): history.train_loss[-1], ("loss", "test"): history.test_loss[-1],
            ("error", "train"): 100 * history.train_err[-1], ("error", "test"): 100 * history.test_err[-1],
        }
        try:
            for (kind, split), value in points.items():
                ylabel = "error (%)" if kind == "error" else "loss"
                opts = {"title": self.windows[kind], "xlabel": "epoch", "ylabel": ylabel, "showlegend": True,
                        "markers": True, "markersize": 6}  # after epoch 1 a line is one point
                self.viz.line(X=[epoch], Y=[value], win=self.windows[kind], env=self.env, name=f"{name} {split}",
                              update="append", opts=opts)
        except ServerTimeout as e:  # server frozen mid-run (Ctrl-Z): say so once, carry on without it
            self._give_up(f"the server at {self.url} stopped answering ({e})")
        except NotVisdom as e:
            self._give_up(f"the program answering at {self.url} is not a visdom server ({e})")
        except Exception as e:  # server stopped mid-run: say so once, then carry on without it
            cause = e.__cause__ or e.__context__ or e
            self._give_up(f"lost the server at {self.url} ({type(cause).__name__}: {str(cause)[:120]})")

    def __call__(self, history: History, model=None) -> None:
        """Trainer callback: ``fit(..., callbacks=[logger])``."""
        self.log_epoch(history)


if __name__ == "__main__":
    sys.exit(server_main())
