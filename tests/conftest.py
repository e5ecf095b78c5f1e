"""Shared fixtures. Plots are drawn off-screen in tests.

Markers (the stages of `.ci/run`): unmarked tests are the fast unit tests; ``slow`` tests
build small books or run benchmarks; ``chapters`` tests run every chapter as a script. Run
one stage with ``-m``, e.g. ``pytest tests -m "not slow and not chapters"``.
"""

import functools
import http.server
import socket
import sys
import threading
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

# The build tools under tools/ are scripts that import each other from their own folder (as
# Sphinx's local_extensions and `python tools/x.py` run them); the tests import them likewise.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
# Likewise the benchmark scripts, which share benchmarks/_threads.py.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: builds a small book or runs a benchmark (seconds to a minute)")
    config.addinivalue_line("markers", "chapters: runs every chapter of the book as a script (minutes)")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


# -- local mirrors for the data loaders' download tests (no test touches the network) ---

class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass


@pytest.fixture
def serve():
    """Start static HTTP servers on 127.0.0.1; returns a function directory -> base URL."""
    servers = []

    def start(directory):
        handler = functools.partial(_QuietHandler, directory=str(directory))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def cut_off_server():
    """A mirror that answers every request with a chunked response cut off mid-chunk.

    urllib raises http.client.IncompleteRead for it: neither an OSError nor a ValueError.
    Returns the base URL.
    """
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def answer():
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except (TimeoutError, socket.timeout, OSError):
                continue
            with conn:
                conn.recv(65536)  # the request
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b"400\r\n" + b"x" * 10  # a 1024-byte chunk, 10 bytes sent
                )

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/"
    stop.set()
    thread.join()
    listener.close()


def closed_port_url():
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


@pytest.fixture
def no_env(monkeypatch, tmp_path):
    """No NNSCRATCH_MNIST_DIR or NNSCRATCH_DATA and a private cache dir, whatever the shell says."""
    monkeypatch.delenv("NNSCRATCH_MNIST_DIR", raising=False)
    monkeypatch.delenv("NNSCRATCH_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
