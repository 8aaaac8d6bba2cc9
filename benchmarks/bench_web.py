"""Web playground load test: many sessions training and streaming at once, on loopback.

A real ``mlplab serve`` runs in a subprocess on 127.0.0.1; ``websockets`` clients open sessions,
send a config (each its own seed), press play and read frames. Measured side by side in one run:
one session alone, then 20 at once. Checks: no error messages, no cross-talk (every session only
ever sees its own seed and its own epochs), and the server's memory back near its baseline after
the sessions close. Takes ~55 s (quick: ~15 s).
"""

from __future__ import annotations

import asyncio
import json
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from benchmarks._timing import md_table

STEPS_PER_EPOCH = 25  # the default playground config: 250 training points, batches of 10


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _session(url: str, seed: int, seconds: float, start: asyncio.Event) -> dict[str, Any]:
    import websockets

    out: dict[str, Any] = {"seed": seed, "frames": 0, "errors": [], "crosstalk": 0}
    async with websockets.connect(url, max_size=2**22) as ws:
        hello = json.loads(await ws.recv())
        out["sid"] = hello["session"]
        await ws.send(json.dumps({"type": "config", "config": {"seed": seed}}))
        while True:
            msg = json.loads(await ws.recv())
            if msg["type"] == "data":
                out["crosstalk"] += msg["config"]["seed"] != seed
                break
            if msg["type"] == "error":
                out["errors"].append(msg["message"])
                return out
        await start.wait()
        await ws.send(json.dumps({"type": "play"}))
        t0 = time.perf_counter()
        first_epoch, last_epoch = None, 0
        while time.perf_counter() - t0 < seconds:
            try:
                msg = json.loads(await asyncio.wait_for(ws.recv(), timeout=5))
            except TimeoutError:
                out["errors"].append("no frame for 5 s")
                break
            if msg["type"] == "error":
                out["errors"].append(msg["message"])
            elif msg["type"] == "data":
                out["crosstalk"] += msg["config"]["seed"] != seed
            elif msg["type"] == "frame":
                out["frames"] += 1
                out["crosstalk"] += msg["epoch"] < last_epoch  # another run's epochs
                last_epoch = msg["epoch"]
                first_epoch = msg["epoch"] if first_epoch is None else first_epoch
        elapsed = time.perf_counter() - t0
        out["fps"] = out["frames"] / elapsed
        out["epochs_per_s"] = (last_epoch - (first_epoch or 0)) / elapsed
    return out


async def _load(url: str, n: int, seconds: float) -> list[dict[str, Any]]:
    start = asyncio.Event()
    tasks = [asyncio.create_task(_session(url, 1000 + i, seconds, start)) for i in range(n)]
    await asyncio.sleep(0.5 + 0.1 * n)  # everyone configured before the clock starts
    start.set()
    return list(await asyncio.gather(*tasks))


def _row(label: str, res: list[dict[str, Any]]) -> list[Any]:
    fps = [r.get("fps", 0.0) for r in res]
    eps = [r.get("epochs_per_s", 0.0) for r in res]
    return [label, len(res), round(statistics.median(fps), 1), round(min(fps), 1),
            round(statistics.median(eps), 1),
            round(statistics.median(eps) * STEPS_PER_EPOCH),
            round(sum(eps) * STEPS_PER_EPOCH),
            sum(len(r["errors"]) for r in res), sum(r["crosstalk"] for r in res)]


def run(quick: bool) -> str:
    n_sessions, seconds, solo = (20, 5.0, 3.0) if quick else (20, 30.0, 10.0)
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "mlplab", "serve", "--port", str(port),
                             "--max-sessions", str(n_sessions + 4)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/schema", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        url = f"ws://127.0.0.1:{port}/ws"
        asyncio.run(_load(url, n_sessions, 2.0))  # warm-up: imports, allocator arenas
        time.sleep(1.0)
        base = _rss_mb(proc.pid)
        one = asyncio.run(_load(url, 1, solo))
        many = asyncio.run(_load(url, n_sessions, seconds))
        peak = _rss_mb(proc.pid)
        time.sleep(2.0)  # sessions end when their sockets close
        after = _rss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    rows = [_row("alone", one), _row("concurrent", many)]
    ratio = rows[1][4] / rows[0][4] if rows[0][4] else float("nan")
    total = rows[1][6] / rows[0][6] if rows[0][6] else float("nan")
    table = md_table(["run", "sessions", "frames/s per session (median)", "min",
                      "epochs/s per session", "steps/s per session", "steps/s total",
                      "errors", "cross-talk"], rows)
    return (f"## Web playground: {n_sessions} concurrent sessions\n\n"
            f"`python -m benchmarks.run --only web` starts `mlplab serve` on 127.0.0.1 and "
            f"opens WebSocket sessions (default playground: disk data, 2-4-2-1 tanh, Adam, "
            f"batch 10 = {STEPS_PER_EPOCH} steps/epoch), each with its own seed, pressing play "
            f"and reading frames for {seconds:g} s (one alone for {solo:g} s first).\n\n"
            f"{table}\n\nPer-session training speed with {n_sessions} sessions is "
            f"{ratio:.2f}x the solo speed: the sessions take short fair turns at the CPU "
            f"(`Limits.compute_slots`), so frames keep a steady rate while the total training "
            f"throughput is {total:.2f}x that of one session (the rest goes into the extra "
            f"frames). Server memory (RSS, baseline taken after a warm-up round of "
            f"{n_sessions} sessions): {base:.0f} MB before, {peak:.0f} MB with {n_sessions} "
            f"sessions, {after:.0f} MB after they closed ({after - base:+.1f} MB).")


if __name__ == "__main__":
    print(run("--quick" in sys.argv))
