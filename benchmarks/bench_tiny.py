"""Tiny full-batch nets: the `disk-mlp` recipe, mlplab's fused runners vs the tutorial loop.

The fused torch runner (chosen automatically) is bitwise equal to the eager runner; the NumPy
kernel (``train.fast: on``) is faster still but equal to rounding only.
"""

from __future__ import annotations

import copy
import time

from torch import nn

from benchmarks._timing import md_table, tutorial_loop


def run(quick: bool) -> str:
    from mlplab.config import RunConfig, with_overrides
    from mlplab.models import build_model
    from mlplab.pipeline import model_spec, prepare
    from mlplab.recipes import load_recipe
    from mlplab.training.loop import eager_runner, fit

    epochs = 1000 if quick else 5000
    repeats = 3 if quick else 5
    cfg = with_overrides(RunConfig.from_dict(load_recipe("disk-mlp")),
                         {"train.epochs": epochs, "log.quiet": True})
    p = prepare(cfg)
    data = p.tensors()
    X, y = data.X["train"], data.y["train"]
    init = build_model(model_spec(cfg, p.n_features, p.task), seed=cfg.seed)
    times: dict[str, list[float]] = {"tutorial": [], "eager": [], "fast": [], "numpy": []}
    numpy_cfg = with_overrides(cfg, {"train.fast": "on"})
    losses: dict[str, float] = {}
    for _ in range(repeats):  # interleaved, so load from other processes hits all alike
        m = copy.deepcopy(init)
        t = time.perf_counter()
        losses["tutorial"] = tutorial_loop(m.net, nn.BCELoss(), X, y, cfg.optim.lr, epochs)
        times["tutorial"].append(time.perf_counter() - t)
        for name, runner, c in (("eager", eager_runner, cfg), ("fast", None, cfg),
                                ("numpy", None, numpy_cfg)):
            m = copy.deepcopy(init)
            t = time.perf_counter()
            state = fit(m, p.task, data, c, runner=runner)
            times[name].append(time.perf_counter() - t)
            losses[name] = float(state.last_loss)  # type: ignore[arg-type]
            assert state.runner_name == name
    med = {k: sorted(v)[len(v) // 2] for k, v in times.items()}
    base = med["tutorial"]
    rows = [["tutorial eager loop (nn.Sequential, BCELoss, SGD)", f"{epochs / base:,.0f}",
             f"{base / epochs * 1e6:.1f}", "1.00", f"{losses['tutorial']:.6f}"],
            ["mlplab `fit`, eager runner", f"{epochs / med['eager']:,.0f}",
             f"{med['eager'] / epochs * 1e6:.1f}", f"{base / med['eager']:.2f}",
             f"{losses['eager']:.6f}"],
            ["mlplab `fit`, fused runner (chosen automatically; bitwise = eager)",
             f"{epochs / med['fast']:,.0f}", f"{med['fast'] / epochs * 1e6:.1f}",
             f"**{base / med['fast']:.2f}**", f"{losses['fast']:.6f}"],
            ["mlplab `fit`, NumPy kernel (`train.fast: on`; equal to rounding)",
             f"{epochs / med['numpy']:,.0f}", f"{med['numpy'] / epochs * 1e6:.1f}",
             f"{base / med['numpy']:.2f}", f"{losses['numpy']:.6f}"]]
    return (f"## Tiny full-batch net: `disk-mlp` (2-4-4-1, 80 train points, SGD)\n\n"
            f"{epochs} epochs per run, median of {repeats} interleaved repeats, one thread. "
            "mlplab's figures include its evaluation every 50 epochs; the tutorial loop "
            "evaluates nothing. Goal: >= 5x epochs/s, same final loss.\n\n"
            + md_table(["variant", "epochs/s", "µs/epoch", "speed-up", "final train loss"],
                       rows))
