"""Shared fixtures: deterministic seeds, tiny datasets, a real ``mlplab serve`` process and
one Jupyter kernel for every notebook test."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
import torch

os.environ.setdefault("MPLBACKEND", "Agg")
torch.set_num_threads(1)  # deterministic and no oversubscription on 2-core CI


# Test files that start several CPU-bound processes of their own and wait on them with
# timeouts (torchrun ranks, PostgreSQL sweep workers, a browser beside a server): under
# `make test` (pytest-xdist, 2 workers) two of them never run at once.
MULTI_PROCESS = ("tests/test_distributed.py", "tests/test_torchrun_failures.py",
                 "tests/search/test_study.py", "tests/e2e/test_playground_browser.py",
                 "tests/e2e/test_report_browser.py")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadfile``, with the MULTI_PROCESS files counted as one file: every file
    runs on one worker, so its module fixtures (a trained run, a server) are built once.
    (``--dist loadgroup`` cannot do this: xdist 3.8 renames node ids, which pytest 9 ignores.)"""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class FileScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "multi-process" if path in MULTI_PROCESS else path

    return FileScheduling(config, log)


@pytest.fixture(autouse=True)
def _seed() -> None:
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)


@pytest.fixture
def tiny_csv(tmp_path):
    """A small mixed-type binary CSV: two numeric columns, one categorical, string labels."""
    rng = np.random.default_rng(0)
    n = 120
    x1 = rng.normal(size=n)
    x2 = rng.normal(size=n)
    color = rng.choice(["red", "green", "blue"], size=n)
    label = np.where(x1 + 0.5 * x2 + (color == "red") > 0.3, "yes", "no")
    df = pd.DataFrame({"x1": x1, "x2": x2, "color": color, "label": label})
    path = tmp_path / "tiny.csv"
    df.to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def jupyter_kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One real Jupyter kernel (ipykernel) for every notebook the tests execute: starting one
    and importing torch in it costs seconds. Every notebook defines all it uses, from its
    imports on; pass it as ``nbclient.NotebookClient(nb, km=jupyter_kernel)``."""
    pytest.importorskip("ipykernel")
    manager = pytest.importorskip("jupyter_client.manager")
    km = manager.KernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(tmp_path_factory.mktemp("kernel")))
    try:
        yield km
    finally:
        km.shutdown_kernel(now=True)


class Notebooks:
    """Executes notebooks in the session's one kernel, in the way that holds on a busy machine.

    nbclient waits only ``iopub_timeout`` seconds (4 by default) after a cell's reply for the
    cell's output, then goes on silently without it: on a loaded machine a cell's printout
    arrived after that and the cell looked empty. Here it waits up to two minutes and raises
    instead of going on. A cell's printout may also arrive in several stream outputs (or with
    an empty one at the end): :meth:`text` joins them.
    """

    CLIENT: ClassVar[dict[str, Any]] = {
        "timeout": 600, "startup_timeout": 180, "iopub_timeout": 120,
        "raise_on_iopub_timeout": True}

    def __init__(self, km: Any) -> None:
        self.km = km

    def client(self, nb: Any, cwd: str, **kw: Any) -> Any:
        """An ``nbclient.NotebookClient`` for ``nb`` (in ``cwd``) with these settings."""
        import nbclient

        return nbclient.NotebookClient(nb, resources={"metadata": {"path": cwd}},
                                       **{**self.CLIENT, **kw})

    def run(self, nb: Any, cwd: str) -> Any:
        """Execute ``nb`` top to bottom in the shared kernel, in the folder ``cwd``."""
        import nbformat

        nb.cells.insert(0, nbformat.v4.new_code_cell(f"import os; os.chdir({cwd!r})"))
        try:
            self.client(nb, cwd, km=self.km).execute()
        finally:
            del nb.cells[0]  # callers count cells from their own first
        return nb

    @staticmethod
    def text(cell: Any) -> str:
        """All a cell printed: its stdout streams joined, then each result's plain text."""
        streams = "".join(o.get("text", "") for o in cell.outputs
                          if o.output_type == "stream" and o.get("name") == "stdout")
        results = [o["data"].get("text/plain", "") for o in cell.outputs
                   if o.output_type in ("execute_result", "display_data")]
        return streams + "\n".join(results)

    @classmethod
    def last_line(cls, cell: Any) -> str:
        """The last non-empty line a cell printed; fails with what the cell did show."""
        lines = [line for line in cls.text(cell).splitlines() if line.strip()]
        assert lines, f"the cell printed nothing; its outputs: {cell.outputs!r}"
        return lines[-1]


@pytest.fixture(scope="session")
def notebooks(jupyter_kernel: Any) -> Notebooks:
    """Run notebooks in the shared kernel and read what their cells printed (:class:`Notebooks`)."""
    pytest.importorskip("nbclient")
    return Notebooks(jupyter_kernel)


def fast_cfg(**over):
    """A RunConfig dict for quick tests (few epochs, no progress bar)."""
    cfg = {"data": {"source": "gaussians", "n_samples": 200},
           "model": {"hidden": [4]}, "train": {"epochs": 30, "eval_every": 10},
           "log": {"quiet": True, "plots": False}}
    for k, v in over.items():
        cfg[k] = {**cfg.get(k, {}), **v} if isinstance(v, dict) else v
    return cfg


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_server(*args: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Start ``mlplab serve --host 127.0.0.1 --port P *args``; yield (base URL, process).

    The server's output goes to a file (a pipe nobody reads can fill and block the server), and
    is shown when it does not come up. A port found free can be taken before the server binds
    it: a server that exits at start is started again on another port (three tries)."""
    import tempfile

    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with tempfile.TemporaryFile() as log:
        for _attempt in range(3):
            port = free_port()
            proc = subprocess.Popen([sys.executable, "-m", "mlplab", "serve", "--host",
                                     "127.0.0.1", "--port", str(port), *args],
                                    env=env, stdout=log, stderr=subprocess.STDOUT)
            url = f"http://127.0.0.1:{port}/"
            if _wait_until_up(url, proc):
                break
            proc.wait()
        else:
            log.seek(0)
            raise RuntimeError("mlplab serve did not start:\n" + log.read().decode()[-3000:])
        try:
            yield url, proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_until_up(url: str, proc: subprocess.Popen[bytes], timeout: float = 180) -> bool:
    """True once the server at ``url`` answers; False if its process ended first. A server
    that neither answers nor ends within ``timeout`` seconds fails the test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url + "favicon.ico", timeout=5).read()
            return True
        except urllib.error.HTTPError:  # 403 without a token: the server is up
            return True
        except OSError:
            if proc.poll() is not None:
                return False
            time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"mlplab serve did not answer at {url} within {timeout:.0f} s")


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Debian's headless Chromium under Playwright (the browser tests skip without it)."""
    if not os.path.exists(CHROMIUM):
        pytest.skip("needs Debian's chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="session")
def server_factory() -> Callable[..., object]:
    """``with server_factory(*serve_args) as (url, proc):`` a real server, stopped after."""
    return running_server
