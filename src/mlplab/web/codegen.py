"""Exports from the playground: a plain-PyTorch script, the YAML and CLI, the run directory.

The script comes from mlplab's one code generator (:mod:`mlplab.export.train`), with the
page's settings: the same data, split, preprocessing, initial weights, batch order and
learning-rate changes, so it ends where the playground's run ended.

Example
-------
>>> from mlplab.config import RunConfig
>>> cfg = RunConfig.from_dict({"data": {"source": "moons"}, "model": {"hidden": [4]}})
>>> cli_command(cfg).split()[:4]
['mlplab', 'train', '--data', 'moons']
"""

from __future__ import annotations

import io
import shlex
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import yaml

from mlplab.config import RunConfig, flatten
from mlplab.training.loop import resolve_batch_size


def exported_config(cfg: RunConfig, epoch: int, lr_log: list[tuple[int, float]]) -> RunConfig:
    """The config that reproduces the playground's run: its start lr, the epochs it reached."""
    d = cfg.to_dict()
    d["train"]["epochs"] = epoch
    if lr_log:
        d["optim"]["lr"] = lr_log[0][1]
    return RunConfig.from_dict(d)


def yaml_text(cfg: RunConfig, lr_log: list[tuple[int, float]] | None = None) -> str:
    """The config as YAML, with a note on learning-rate changes a config cannot express."""
    head = "# mlplab config exported from the playground: mlplab train --config THIS_FILE\n"
    later = [(e, lr) for e, lr in (lr_log or [])[1:]]
    if later:
        head += "# the page changed the learning rate at " + ", ".join(
            f"epoch {e} -> {lr:g}" for e, lr in later) + " (the script reproduces this)\n"
    return head + cfg.to_yaml()


def cli_command(cfg: RunConfig) -> str:
    """``mlplab train`` with every setting that differs from RunConfig's defaults."""
    parts = ["mlplab", "train", "--data", shlex.quote(cfg.data.source)]
    flat_new, flat_def = flatten(cfg.to_dict()), flatten(RunConfig().to_dict())
    for key, v in flat_new.items():
        if key == "data.source" or flat_def.get(key, object()) == v:
            continue
        text = v if isinstance(v, str) else yaml.safe_dump(v, default_flow_style=True).strip()
        text = text.removesuffix("\n...").strip()
        parts += ["--set", shlex.quote(f"{key}={text}")]
    return " ".join(parts)


def script(cfg: RunConfig, p: Any, lr_log: list[tuple[int, float]],
           n_train: int | None = None, total_epochs: int | None = None) -> str:
    """The page's run as a plain-PyTorch training script (mlplab's one code generator).

    ``p`` is the session's :class:`~mlplab.api.Prepared` data (an upload's rows are read
    from the file the user gave, by its name). ``cfg`` is :func:`exported_config`'s, so it
    trains for the epochs the page reached; ``lr_log`` adds the page's learning-rate changes
    and ``total_epochs`` is what the schedule was built for. Passing a TaskSpec as ``p`` (the
    old call) prepares the data again from ``cfg``; ``n_train`` is then unused.
    """
    from mlplab.api import Prepared, model_spec, prepare
    from mlplab.export.codegen import Source
    from mlplab.export.train import train_script
    from mlplab.models import build_model

    if not isinstance(p, Prepared):
        p = prepare(cfg)
    sizes = p.split.sizes()
    src = Source(config=cfg, task=p.task, preprocessor=p.preprocessor,
                 target_encoder=p.target_encoder,
                 model=build_model(model_spec(cfg, p.n_features, p.task)),
                 batch_size=resolve_batch_size(cfg.train.batch_size, sizes["train"]),
                 n_train=sizes["train"], n_val=sizes["val"], n_test=sizes["test"],
                 epochs=cfg.train.epochs, schedule_epochs=total_epochs or cfg.train.epochs,
                 lr_changes={e: lr for e, lr in lr_log[1:]},
                 target_scaler=getattr(p.target_encoder, "scaler", None),
                 data_file=cfg.data.source if p.table.kind == "memory" else None)
    return train_script(src)


def run_zip(run: Any) -> bytes:
    """A trained :class:`~mlplab.runs.run.Run` saved with ``Run.save`` into a temp dir, zipped."""
    buf = io.BytesIO()
    with tempfile.TemporaryDirectory(prefix="mlplab-export-") as tmp:
        root = Path(tmp) / run.config.name
        run.save(root)
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for f in sorted(root.rglob("*")):
                if f.is_file():
                    zf.write(f, f"{run.config.name}/{f.relative_to(root)}")
    return buf.getvalue()

