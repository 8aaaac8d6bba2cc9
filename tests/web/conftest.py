"""A real ``mlplab serve`` process on a free loopback port, stopped by the test."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_server(*args: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Start ``mlplab serve --host 127.0.0.1 --port P *args``; yield (base URL, process)."""
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "mlplab", "serve", "--host", "127.0.0.1",
                             "--port", str(port), *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(1200):  # up to 2 minutes on a busy machine
            try:
                urllib.request.urlopen(url + "favicon.ico", timeout=1).read()
                break
            except urllib.error.HTTPError:  # 403 without a token: the server is up
                break
            except OSError:
                if proc.poll() is not None:
                    out = proc.stdout.read().decode() if proc.stdout else ""
                    raise RuntimeError(out) from None
                time.sleep(0.1)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def server_factory() -> Callable[..., object]:
    return running_server
