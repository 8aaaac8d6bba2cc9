"""The whole workflow in one call: data -> split -> preprocess -> task -> model -> train ->
metrics -> run directory. The stages themselves live in :mod:`mlplab.pipeline`.

Example
-------
>>> run = train({"data": {"source": "gaussians", "n_samples": 200},
...              "model": {"hidden": [4]}, "train": {"epochs": 50}}, save=False)
>>> run.task.name, run.metrics["test"]["accuracy"] > 0.95
('binary', True)
>>> sorted(run.predict([[2.0, 2.0], [-2.0, -2.0]]).tolist())  # one point per cluster
[0, 1]
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from mlplab import ensemble, threads
from mlplab.config import RunConfig
from mlplab.data.stream import should_stream
from mlplab.models import build_model, build_seeded, resolve_device
from mlplab.outputs import OutputProbe, read_output
from mlplab.pipeline import (
    DataLike,
    Prepared,
    model_spec,
    prepare,
    prepare_stream,
    split_metrics,
    streamed_metrics,
    table_from,
)
from mlplab.runs import lifecycle
from mlplab.runs import store as runs
from mlplab.runs.finish import finish_run
from mlplab.runs.lifecycle import RunDir, RunStart
from mlplab.runs.run import Run
from mlplab.training import checkpoint
from mlplab.training.callbacks import Callback, ProgressBar
from mlplab.training.loop import fit
from mlplab.training.runners import ddp as distributed
from mlplab.training.runners.stream import StreamRunner


def _callbacks_for(cfg: RunConfig, progress: bool | None, p: Prepared | None = None,
                   out: Path | None = None) -> list[Callback]:
    cbs: list[Callback] = []
    show = ProgressBar.wanted(cfg.log.quiet) if progress is None else progress
    if progress is not False and not cfg.log.quiet and "ipykernel" in sys.modules:
        from mlplab.inspect.notebook import live_display  # Jupyter: one live output, no bar

        cbs += live_display()
    elif show:
        cbs.append(ProgressBar())
    if p is not None and (cfg.log.tensorboard or cfg.log.snapshots_every or
                          (out is not None and cfg.log.plots)):
        from mlplab.inspect.tracking import tracking_callbacks  # snapshots and TensorBoard
        cbs += tracking_callbacks(cfg, p, out)
    return cbs


def _head(model: nn.Module, x: np.ndarray, cfg: RunConfig, seen: list[OutputProbe]) -> str:
    """The output kind ``model`` is trained with (:func:`mlplab.outputs.read_output`), said in
    one line unless the run is quiet; kept in ``seen`` for the run's info."""
    found = read_output(model, x, cfg.model.output)
    seen.append(found)
    if not cfg.log.quiet:
        print(f"your module's output: {found}", file=sys.stderr)
    return found.kind


def train(config: RunConfig | dict[str, Any] | str | Path | None = None, *,
          data: DataLike = None, model: nn.Module | None = None, out: str | Path | None = None,
          overwrite: bool = False, save: bool = True, callbacks: Iterable[Callback] = (),
          progress: bool | None = None, sample_weight: np.ndarray | None = None,
          resume: str | Path | None = None, override: dict[str, Any] | None = None) -> Run:
    """Train a model as ``config`` says and (unless ``save=False``) write its run directory.

    Parameters
    ----------
    config : RunConfig, dict, path to YAML/TOML, or None for the defaults.
    data : optional in-memory data instead of ``config.data.source``: a DataFrame (with
        ``data.target`` naming the label column) or a tuple ``(X, y)``.
    model : optional ``nn.Module`` to train instead of the MLP the config describes. Its
        output must fit the task (checked on the first batch).
    out : run directory; default ``runs/<name>-<timestamp>``. An existing non-empty directory
        is refused unless ``overwrite``.
    sample_weight : optional weights for the training rows (length = rows of the data before
        splitting are not known to the caller, so this is per *train-split* row).
    resume : a run directory with checkpoints (``log.checkpoint_every``): continue it with its
        own config (``config`` is ignored) up to the same final weights as an uninterrupted run.
    override : with ``resume``, settings to change for the rest of the run (dotted keys, e.g.
        ``{"optim.lr": 0.05}``); recorded in ``model.json`` (``training.resumes``).

    A saved run's directory holds the resolved ``config.yaml`` from the start of training.

    Under ``torchrun`` (``WORLD_SIZE > 1``) every process calls this; each trains on its shard
    with DistributedDataParallel and only rank 0 writes (see :mod:`mlplab.training.runners.ddp`).

    Training sets torch's thread count by :mod:`mlplab.threads`' policy; the caller's
    settings come back when this returns or raises. Like a plain PyTorch script, it seeds
    torch's global generator with ``config.seed`` before building the model (the weights
    and dropout masks repeat).
    """
    with threads.restoring():
        return _train(config, data=data, model=model, out=out, overwrite=overwrite, save=save,
                      callbacks=callbacks, progress=progress, sample_weight=sample_weight,
                      resume=resume, override=override)


def _train(config: RunConfig | dict[str, Any] | str | Path | None, *, data: DataLike,
           model: nn.Module | None, out: str | Path | None, overwrite: bool, save: bool,
           callbacks: Iterable[Callback], progress: bool | None,
           sample_weight: np.ndarray | None, resume: str | Path | None,
           override: dict[str, Any] | None) -> Run:
    ck, cfg = lifecycle.resume_point(resume, override) if resume is not None else \
        (None, RunConfig.from_any(config))
    dist = distributed.setup(cfg.train.device)
    rd: RunDir | None = None  # the run directory, checked before anything trains
    if resume is not None:
        rd = RunDir.resumed(Path(resume))
    elif save:
        path = Path(out) if out is not None else runs.default_run_dir(cfg.name)
        # only rank 0 writes (other ranks would see rank 0's config.yaml)
        rd = RunDir.new(path, overwrite) if dist.is_main else RunDir(path, path)
    writes = rd if dist.is_main else None
    stream = data is None and model is None and ck is None and not dist.active and \
        should_stream(cfg.data)
    try:
        run = _train_stream(cfg, writes, progress, callbacks) if stream else \
            _train_in_memory(cfg, ck, dist, rd, data, model, progress, callbacks, sample_weight)
    except BaseException:
        if writes is not None:
            writes.abandon()  # an earlier run in the directory stays as it was
        raise
    if writes is not None:
        writes.finish(run)
    return run


def _train_stream(cfg: RunConfig, rd: RunDir | None, progress: bool | None,
                  callbacks: Iterable[Callback]) -> Run:
    """A file too large for memory: chunks + shuffle buffer."""
    p, tensors, source = prepare_stream(cfg)
    cfg = p.cfg
    if cfg.model.ensemble != 1:
        ensemble.refuse(cfg, {"a streamed file": True})
    net: nn.Module = build_seeded(model_spec(cfg, p.n_features, p.task), cfg.seed)
    start = [RunStart(rd)] if rd is not None else []
    own = _callbacks_for(cfg, progress, None, None)
    state = fit(net, p.task, tensors, cfg, [*start, *own, *callbacks],
                runner=StreamRunner(source))
    run = finish_run(cfg, net, p, tensors, state)
    run.info["rows_per_second"] = round(tensors.n_train * state.epoch /
                                        max(state.seconds, 1e-9))
    # test metrics: every test row, read again; train metrics: the in-memory head
    run.info["metric_rows"] = {"train": len(p.X["train"])}
    if tensors.has("test"):
        run.metrics["test"] = streamed_metrics(net, p, source)
        run.info["metric_rows"]["test"] = run.metrics["test"]["rows"]
    if rd is not None:
        rd.write(run)
        if cfg.log.plots:
            from mlplab.inspect.tracking import finish_logging  # figures from a sample
            finish_logging(run, p, own)
    return run


def _train_in_memory(cfg: RunConfig, ck: checkpoint.Checkpoint | None,
                     dist: distributed.DistContext, rd: RunDir | None, data: DataLike,
                     model: nn.Module | None, progress: bool | None,
                     callbacks: Iterable[Callback], sample_weight: np.ndarray | None) -> Run:
    heads: list[OutputProbe] = []  # what the learner's module outputs, read on its data
    device = dist.device or resolve_device(cfg.train.device)
    callbacks = list(callbacks)
    # what this call brings that a stack of ensemble members cannot train with: "auto" is then
    # one network, and an explicit ensemble is refused (mlplab.ensemble)
    unstackable = {"a module of your own": model is not None, "several processes": dist.active,
                   "sample weights": sample_weight is not None,
                   "a resumed checkpoint": ck is not None, "callbacks": bool(callbacks)}
    p = prepare(cfg, data, output=None if model is None else lambda x: _head(model, x, cfg, heads),
                device=str(device), members=ensemble.can_train(cfg, unstackable))
    cfg = p.cfg  # resolved for this table (mlplab.resolve): what trains and is saved
    torch.manual_seed(cfg.seed)  # documented: as a plain script, before the weights and dropout
    net = model if model is not None else build_model(model_spec(cfg, p.n_features, p.task))
    net.to(device)
    tensors = p.tensors(device, sample_weight)
    writes = rd if dist.is_main else None
    start = [RunStart(writes)] if writes is not None and ck is None else []  # config.yaml first
    own = _callbacks_for(cfg, progress if dist.is_main else False, p,
                         writes.work if writes is not None else None)
    resumes = lifecycle.resume_record(ck, cfg) if ck is not None else None
    if cfg.model.ensemble != 1:  # K members as one stack, merged into one MLP (mlplab.ensemble)
        ensemble.refuse(cfg, unstackable)
        members_net, members = ensemble.train(
            cfg, p, own, begin=writes.begin if writes is not None and ck is None else None)
        run = ensemble.finish(cfg, members_net.to(device), p, tensors, members)
        for cb in own:  # snapshots end on the merged model, as a solo run's end on its own
            if hasattr(cb, "retake_last"):
                cb.retake_last(run.model, tensors.X["train"], tensors.y["train"])
    else:
        ckpt = checkpoint.callbacks_for(cfg, rd.work if rd is not None else None, ck,
                                        write=dist.is_main, resumes=resumes)
        kw = checkpoint.optimizer_and_scheduler(net, cfg, tensors.n_train, ck) \
            if ck is not None or dist.active else {}
        state = fit(net, p.task, dist.shard(tensors), cfg,
                    [*start, *dist.callbacks(), *own, *ckpt, *callbacks], runner=dist.runner(),
                    **kw)
        run = finish_run(cfg, net, p, tensors, state)
    if heads:
        run.info["output"] = str(heads[0])
    if resumes is not None:
        run.info["resumes"] = resumes
    if writes is not None:
        writes.write(run)
        if cfg.log.plots or cfg.log.tensorboard or cfg.log.snapshots_every:
            from mlplab.inspect.tracking import finish_logging  # figures, report.html, TensorBoard
            finish_logging(run, p, own)
    return run


__all__ = ["DataLike", "Prepared", "finish_run", "model_spec", "prepare", "split_metrics",
           "table_from", "train"]
