"""Bring your own model: a learner's ``state_dict`` and ``nn.Module`` class become a run.

The weights are read with ``torch.load(weights_only=True)``, whose unpickler only rebuilds
tensors and plain containers: a file that holds a whole pickled model (``torch.save(model)``)
is refused before anything in it runs. The module class comes from the learner's own source
file (``FILE.py:CLASS``), which is executed as Python, as running their script would.

Example
-------
>>> import tempfile, torch
>>> from pathlib import Path
>>> d = Path(tempfile.mkdtemp())
>>> _ = (d / "net.py").write_text("import torch.nn as nn\\n"
...                               "def Net(k=4):\\n"
...                               "    return nn.Sequential(nn.Linear(2, k), nn.ReLU(),"
...                               " nn.Linear(k, 1))\\n")
>>> model = load_module(f"{d / 'net.py'}:Net(8)")
>>> torch.save(model.state_dict(), d / "net.pt")
>>> run = import_run(d / "net.pt", f"{d / 'net.py'}:Net(8)",
...                  {"data": {"source": "moons", "n_samples": 100},
...                   "log": {"quiet": True, "plots": False}}, out=d / "run")
>>> run.info["epochs_run"], (d / "run" / "model.json").is_file()
(0, True)
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import pickle
import sys
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mlplab.api import train
from mlplab.config import RunConfig, set_path
from mlplab.errors import ConfigError, RunError
from mlplab.runs.provenance import IMPORTED_PREFIX
from mlplab.runs.run import MODULE_SPEC_ATTR

# keys under which training scripts commonly nest the state_dict in a checkpoint dict
NESTED_STATE_KEYS = ("state_dict", "model_state_dict", "model")


def _parse_spec(spec: str) -> tuple[Path, str, list[Any], dict[str, Any]]:
    """``FILE.py:NAME`` or ``FILE.py:NAME(args)`` -> (file, name, args, kwargs); the
    arguments are Python literals."""
    path, sep, call = spec.rpartition(":")
    if not sep or not path.endswith(".py") or not call:
        raise ConfigError(f"bad --module '{spec}'", expected="FILE.py:CLASS, e.g. "
                          "net.py:SimpleNet or net.py:SimpleNet(2, 10, 1)")
    name, args, kwargs = call, [], {}
    if "(" in call:
        try:
            node = ast.parse(call, mode="eval").body
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
                raise ValueError("not a call")
            name = node.func.id
            args = [ast.literal_eval(a) for a in node.args]
            kwargs = {str(k.arg): ast.literal_eval(k.value) for k in node.keywords}
        except (SyntaxError, ValueError) as e:
            raise ConfigError(f"bad --module '{spec}': the arguments must be literals",
                              found=str(e), hint="e.g. net.py:SimpleNet(2, 10, 1)") from None
    return Path(path), name, args, kwargs


def load_module(spec: str) -> nn.Module:
    """Build the learner's model from ``FILE.py:NAME`` (a class, a function returning a
    module, or a module instance) or ``FILE.py:NAME(literal args)``. Runs ``FILE.py``."""
    path, name, args, kwargs = _parse_spec(spec)
    if not path.is_file():
        raise ConfigError(f"module file '{path}' not found", hint="check the --module path")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    mod_name = f"mlplab_user_{path.stem}_{digest[:12]}"
    module = sys.modules.get(mod_name)
    if module is None:
        loader_spec = importlib.util.spec_from_file_location(mod_name, path)
        assert loader_spec is not None and loader_spec.loader is not None
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[mod_name] = module
        try:
            loader_spec.loader.exec_module(module)
        except Exception as e:
            del sys.modules[mod_name]
            raise ConfigError(f"running '{path}' failed: {type(e).__name__}: {e}") from None
    obj = getattr(module, name, None)
    if obj is None:
        found = [k for k, v in vars(module).items()
                 if isinstance(v, type) and issubclass(v, nn.Module) and v.__module__ == mod_name]
        raise ConfigError(f"'{path}' has no '{name}'",
                          hint=f"modules defined there: {', '.join(found) or 'none'}")
    try:
        model = obj if isinstance(obj, nn.Module) else obj(*args, **kwargs)
    except TypeError as e:
        raise ConfigError(f"cannot build {name}: {e}",
                          hint=f"pass its arguments, e.g. --module {path}:{name}(2, 10, 1)") \
            from None
    if not isinstance(model, nn.Module):
        raise ConfigError(f"'{name}' in '{path}' did not give an nn.Module",
                          found=type(model).__name__)
    setattr(model, MODULE_SPEC_ATTR, spec)
    return model


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a saved ``state_dict`` (``torch.save(model.state_dict(), ...)``, or a
    ``.safetensors`` file), read without running any code from the file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"model file '{path}' not found", hint="check the path")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols it then refuses
            warnings.simplefilter("ignore", UserWarning)
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, AttributeError) as e:
        if "weights_only" in str(e) or isinstance(e, pickle.UnpicklingError):
            raise RunError(
                f"'{path}' holds a whole pickled model (torch.save(model)), not a state_dict: "
                "loading it would run code stored in the file, so mlplab does not",
                hint="in your script, save the weights instead: "
                     "torch.save(model.state_dict(), 'model.pt')") from None
        raise RunError(f"cannot read '{path}' as a PyTorch file", found=str(e).splitlines()[0],
                       hint="save it with torch.save(model.state_dict(), 'model.pt')") from None
    if isinstance(obj, dict):
        nested = next((obj[k] for k in NESTED_STATE_KEYS if isinstance(obj.get(k), dict)), None)
        obj = nested if nested is not None else obj
    if not isinstance(obj, dict) or not obj or \
            not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise RunError(f"'{path}' is not a state_dict",
                       expected="a dict of parameter names to tensors",
                       found=type(obj).__name__,
                       hint="save it with torch.save(model.state_dict(), 'model.pt')")
    return {str(k): v for k, v in obj.items()}


def import_run(model_file: str | Path, module: str | nn.Module, config: Any, *,
               out: str | Path | None = None, overwrite: bool = False,
               save: bool = True) -> Any:
    """A run directory from a saved ``state_dict`` and the module class it belongs to.

    ``config`` names the data (and the task / target if needed); ``train.epochs`` is 0 unless
    set, so the run is the learner's model as saved, evaluated on that data. Inputs are used
    as given (``data.scale: none``) unless the config says otherwise, since the weights were
    learnt on the learner's own features.
    """

    d = config.to_dict() if isinstance(config, RunConfig) else dict(config or {})
    d.setdefault("train", {}).setdefault("epochs", 0)
    d.setdefault("data", {}).setdefault("scale", "none")
    d.setdefault("name", Path(out).name if out is not None else Path(model_file).stem)
    set_path(d, "description", d.get("description") or
             f"{IMPORTED_PREFIX}{Path(model_file).name}")
    cfg = RunConfig.from_dict(d)
    model = load_module(module) if isinstance(module, str) else module
    state = read_state_dict(model_file)
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
        raise RunError(f"the weights in '{model_file}' do not fit {type(model).__name__}",
                       found=" ".join(lines[1:3])[:300] or lines[0],
                       hint="give the class (and arguments) the weights were saved from") \
            from None
    # trained 0 epochs without saving, so that the run's files (and its report) are written
    # once, knowing it is imported: shown as "imported from ..., not trained by mlplab"
    run = train(cfg, model=model, out=None, save=False)
    run.info["imported"] = {"file": Path(model_file).name,
                            "module": module if isinstance(module, str)
                            else getattr(model, MODULE_SPEC_ATTR, type(model).__name__)}
    if save:
        from mlplab.runs import store

        run.save(Path(out) if out is not None else store.default_run_dir(cfg.name),
                 overwrite=overwrite)
        if cfg.log.plots:
            from mlplab.inspect.report import write_report  # figures, diagnosis, report.html

            write_report(run)
    return run


__all__ = ["import_run", "load_module", "read_state_dict"]
