"""The one flag table: each CLI flag that sets a config key, and the dotted key it sets.

``train``, ``baseline`` and ``sweep`` get their config options from :func:`config_flags`, which
builds them from this table: the help text is the ``RunConfig`` field's ``description``, the
choices come from the registry (or the field's ``Literal``), the default shown is the field's.
``sweep``'s short keys (``lr=0.01,0.1``) and ``import``'s options map through the same table.
A command writes by hand only the options that are not config keys.

Example
-------
>>> FLAGS["lr"].path, FLAGS["optimizer"].path, path_of("batch-size")
('optim.lr', 'optim.name', 'train.batch_size')
>>> to_config(hidden="8,8", target=["y"], lr=None)
{'model.hidden': [8, 8], 'data.target': 'y'}
>>> help_of("head")
'auto | logits | sigmoid | softmax | log_softmax'
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Optional, Union

import typer
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from mlplab import registry
from mlplab.config import RunConfig, parse_value


def _one_or_many(v: list[str]) -> str | list[str]:  # --target a: 'a'; --target a --target b
    return v[0] if len(v) == 1 else v


def _comma_list(v: str) -> list[str]:
    return v.split(",")


def _sizes(v: str) -> object:  # '10,10' -> [10, 10]; '', 'none', '[]': no hidden layer
    return [] if v.strip().lower() in ("", "none", "[]") else parse_value(v + ",")


def _one_or_per_layer(v: str) -> str | list[str]:  # 'relu' or 'relu,tanh'
    return v if "," not in v else v.split(",")


@dataclass(frozen=True)
class Flag:
    """A flag that sets the config key ``path``.

    ``name`` is the flag without its dashes, in Python spelling (default: the key's last
    part); ``parse`` turns what the command line gave into the config value; ``repeat``
    lets the flag be given several times (a list of strings).
    """

    path: str
    name: str = ""
    short: str = ""
    parse: Callable[[Any], Any] | None = None
    repeat: bool = False

    @property
    def key(self) -> str:
        return self.name or self.path.rpartition(".")[2]

    @property
    def decls(self) -> list[str]:
        long = "--" + self.key.replace("_", "-")
        if field_of(self.path).annotation is bool:
            long = f"{long}/--no-{long[2:]}"
        return [long, self.short] if self.short else [long]


# the order of `mlplab train --help`; the flag is the key's last part unless named
FLAGS: dict[str, Flag] = {f.key: f for f in [
    Flag("data.source", "data", "-d"), Flag("data.target", parse=_one_or_many, repeat=True),
    Flag("data.features", parse=_comma_list), Flag("data.drop", repeat=True),
    Flag("data.categorical", repeat=True), Flag("data.numeric", repeat=True),
    Flag("data.na_values", parse=_comma_list), Flag("data.decimal"), Flag("data.encoding"),
    Flag("data.pos_label"), Flag("data.n_samples"), Flag("data.noise"), Flag("data.test_size"),
    Flag("data.val_size"), Flag("data.scale"), Flag("data.impute"),
    Flag("task"), Flag("model.hidden", parse=_sizes),
    Flag("model.activation", parse=_one_or_per_layer), Flag("model.output", "head"),
    Flag("model.dropout"), Flag("model.batchnorm"), Flag("model.init"), Flag("loss"),
    Flag("optim.name", "optimizer"), Flag("optim.lr"), Flag("optim.momentum"),
    Flag("optim.weight_decay"), Flag("optim.l1"), Flag("schedule.name", "schedule"),
    Flag("train.epochs"), Flag("train.batch_size", parse=parse_value), Flag("train.eval_every"),
    Flag("train.early_stopping"), Flag("train.clip_grad_norm"), Flag("train.threshold"),
    Flag("train.device"), Flag("train.num_threads"),
    Flag("seed"), Flag("name"), Flag("log.tensorboard"), Flag("log.checkpoint_every"),
]}

# keys chosen by name from a registry table (the config's validators check the same tables);
# a key typed as a Literal in RunConfig takes its choices from the Literal
REGISTRY_CHOICES: dict[str, Iterable[str]] = {
    "model.activation": registry.ACTIVATIONS, "model.output": ["auto", *registry.OUTPUTS],
    "model.init": registry.INITS, "loss": ["auto", *registry.LOSSES],
    "optim.name": registry.OPTIMIZERS, "schedule.name": registry.SCHEDULERS,
}
# --help groups the options by the config section they set
PANELS = {"data": "data (data.*)", "model": "model (model.*, task, loss)",
          "optim": "optimizer (optim.*, schedule.*)", "train": "training (train.*)",
          "log": "run (name, seed, log.*)"}
PANEL_OF = {"task": "model", "loss": "model", "schedule": "optim", "seed": "log", "name": "log"}


def field_of(path: str) -> FieldInfo:
    """The ``RunConfig`` field a dotted key names.

    >>> field_of("optim.lr").description
    'learning rate'
    """
    model: type[BaseModel] = RunConfig
    *sections, last = path.split(".")
    for part in sections:
        model = model.model_fields[part].annotation  # type: ignore[assignment]
    return model.model_fields[last]


def _members(annotation: Any) -> list[Any]:
    """The types of an annotation, ``None`` left out and unions opened."""
    if typing.get_origin(annotation) in (Union, types.UnionType):
        return [m for a in typing.get_args(annotation) for m in _members(a)]
    return [] if annotation is type(None) else [annotation]


def choices(path: str) -> list[str] | None:
    """The names a key accepts, from the registry or the field's ``Literal``; None if any.

    >>> choices("data.scale")
    ['standard', 'robust', 'minmax', 'none']
    """
    if path in REGISTRY_CHOICES:
        return list(REGISTRY_CHOICES[path])
    members = _members(field_of(path).annotation)  # a Literal alone: auto|1|full is no list
    if len(members) == 1 and typing.get_origin(members[0]) is Literal:
        return list(typing.get_args(members[0]))
    return None


def listed(name: str) -> str:
    """A flag's choices as ``--help`` shows them ('' if it takes any value).

    >>> listed("optimizer")
    'sgd | adam | adamw | rmsprop'
    """
    return " | ".join(choices(FLAGS[name].path) or [])


def help_of(name: str) -> str:
    """A flag's help: the field's description, then its choices."""
    text, names = field_of(FLAGS[name].path).description or "", listed(name)
    return f"{text} ({names})" if text and names else text or names


def _default_text(path: str) -> str | bool:
    field = field_of(path)
    value = field.get_default(call_default_factory=True)
    if value in (None, []) or isinstance(value, bool):
        return False
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


def _cli_type(flag: Flag) -> Any:
    if flag.repeat:
        return list[str]
    members = _members(field_of(flag.path).annotation)
    simple = len(members) == 1 and members[0] in (bool, int, float, str)
    return members[0] if simple and flag.parse is None else str


def _parameter(flag: Flag, required: bool = False, default: Any = None) -> inspect.Parameter:
    section = flag.path.partition(".")[0]
    option = typer.Option(*flag.decls, help=help_of(flag.key),
                          rich_help_panel=PANELS[PANEL_OF.get(section, section)],
                          show_default=False if required else  # a required option has none
                          _default_text(flag.path) if default is None else True)
    kind = _cli_type(flag)
    annotation: Any = Annotated[kind if required else Optional[kind], option]
    return inspect.Parameter(flag.key, inspect.Parameter.KEYWORD_ONLY, annotation=annotation,
                             default=inspect.Parameter.empty if required else default)


def to_config(**given: Any) -> dict[str, Any]:
    """``{dotted key: config value}`` for the flags given by name (None: not given)."""
    out = {}
    for name, value in given.items():
        if value is not None and value != []:  # a repeatable flag not given: []
            flag = FLAGS[name]
            out[flag.path] = flag.parse(value) if flag.parse else value
    return out


def path_of(key: str) -> str:
    """The dotted key a flag name (``lr``, ``batch-size``) stands for; other keys as given."""
    flag = FLAGS.get(key.replace("-", "_"))
    return flag.path if flag is not None else key


def config_flags(names: Iterable[str] | None = None, *, exclude: Iterable[str] = (),
                 required: Iterable[str] = (), defaults: Mapping[str, Any] | None = None,
                 ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give a command the config flags ``names`` (default: the whole table) but ``exclude``;
    those in ``required`` must be given, ``defaults`` replace the config's default.

    The command takes ``flags: dict[str, Any]`` instead: ``{dotted key: value}`` for the
    flags given on the command line (see :func:`to_config`). Its own parameters keep their
    place; the config options follow them in ``--help``, grouped by section.
    """
    chosen = [n for n in (FLAGS if names is None else names) if n not in set(exclude)]
    needed, fixed = set(required), dict(defaults or {})
    params = [_parameter(FLAGS[n], n in needed, fixed.get(n)) for n in chosen]
    return _spread("flags", params, lambda given: to_config(**given))


def option_group(param: str, group: type) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give a command the options a dataclass declares (its fields, annotated as typer
    options); the command takes one instance of it as ``param`` instead.

    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Search:
    ...     trials: Annotated[int, typer.Option(help="how many")] = 8
    >>> @option_group("search", Search)
    ... def command(search: Search, quiet: bool = False) -> int:
    ...     return search.trials
    >>> list(inspect.signature(command).parameters), command(quiet=True, trials=3)
    (['quiet', 'trials'], 3)
    """
    hints = typing.get_type_hints(group, include_extras=True)
    params = [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, annotation=hints[f.name],
                                default=f.default) for f in dataclasses.fields(group)]
    return _spread(param, params, lambda given: group(**given))


def _spread(param: str, options: list[inspect.Parameter], collect: Callable[[dict[str, Any]], Any],
            ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Replace a command's parameter ``param`` by ``options`` in what typer sees; the command
    gets ``collect({option: value})`` as ``param``."""
    names = [p.name for p in options]

    def wrap(func: Callable[..., Any]) -> Callable[..., Any]:
        own = inspect.signature(func, eval_str=True).parameters
        clash = set(names) & set(own)
        assert not clash and param in own, f"{func.__name__}: {clash or param}"
        params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own.values()
                  if p.name != param]

        def command(**kwargs: Any) -> Any:
            given = {n: kwargs.pop(n) for n in names}
            return func(**{param: collect(given)}, **kwargs)

        functools.update_wrapper(command, func, assigned=("__module__", "__name__",
                                                          "__qualname__", "__doc__"))
        command.__signature__ = inspect.Signature([*params, *options])  # type: ignore[attr-defined]
        return command

    return wrap


__all__ = ["FLAGS", "Flag", "choices", "config_flags", "field_of", "help_of", "listed",
           "option_group", "path_of", "to_config"]
