"""Optuna searches: trials trained in batches (one ensemble per batch), shared by workers.

Several processes, or machines, run :func:`optuna_sweep` with the same storage and study name
and share one study. Each trial becomes a member named ``<name>-t<trial number>`` (unique in
the study); its metrics are stored in the study, so every worker's ``summary.csv`` lists every
trial, with its state (complete, pruned, fail, running). On a database storage
(``postgresql+psycopg://...``, ``sqlite:///...``) each running trial sends a heartbeat; a
trial whose worker died (no heartbeat for two intervals) is marked failed by the next worker
that asks for a trial, and retried with the same parameters.
"""

from __future__ import annotations

import contextlib
import math
import socket
import threading
import time
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlplab.config import RunConfig
from mlplab.errors import ConfigError, TrainingError
from mlplab.search.results import (
    COMPLETE,
    FAILED,
    LOWER_IS_BETTER,
    PRUNED,
    SweepResult,
    check_metric,
    failed_row,
    member_row,
    run_state,
    selection_config,
)
from mlplab.search.spaces import check_space, decode_params, suggest
from mlplab.search.sweep import check_writable, member_configs, run_configs, save_sweep
from mlplab.training.callbacks import Callback

if TYPE_CHECKING:
    import optuna

    from mlplab.api import Prepared
    from mlplab.runs.run import Run
    from mlplab.training.loop import TrainState

HEARTBEAT = 60  # seconds between a running trial's heartbeats (database storages)
MAX_RETRY = 3  # times a trial whose worker died is retried
DB_ATTEMPTS = 5  # tries to open a database storage (tables being created by another worker)
# URL schemes without a driver -> the driver mlplab[sweep] installs (psycopg 3)
DRIVERS = {"postgresql://": "postgresql+psycopg://", "postgres://": "postgresql+psycopg://"}


def optuna_storage(storage: str | Path | None, default_dir: Path,
                   heartbeat: int | None = HEARTBEAT) -> Any:
    """A journal file by default (``default_dir/optuna.journal``), a journal file path, or a
    database URL (with heartbeats every ``heartbeat`` seconds and retries of dead trials).
    ``postgresql://`` URLs use the psycopg (3) driver.

    >>> import tempfile
    >>> type(optuna_storage(None, Path(tempfile.mkdtemp()))).__name__
    'JournalStorage'
    """
    import optuna
    from optuna.storages.journal import JournalFileBackend

    if storage is None:
        default_dir.mkdir(parents=True, exist_ok=True)
        storage = default_dir / "optuna.journal"
    s = str(storage)
    if "://" not in s:
        Path(s).parent.mkdir(parents=True, exist_ok=True)
        return optuna.storages.JournalStorage(JournalFileBackend(s))
    # RetryFailedTrialCallback was renamed in Optuna 4.9; both retry with the same params
    retry_cls = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback",
                        optuna.storages.RetryFailedTrialCallback)
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import DBAPIError

    for plain, with_driver in DRIVERS.items():
        if s.startswith(plain):
            s = with_driver + s.removeprefix(plain)
    error: Exception | None = None
    for attempt in range(DB_ATTEMPTS):
        try:
            with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(
                    s, heartbeat_interval=heartbeat,
                    heartbeat_stale_trial_callback=retry_cls(max_retry=MAX_RETRY),
                    engine_kwargs={"pool_pre_ping": True})
        except DBAPIError as e:
            # workers starting together on an empty database race to create Optuna's
            # tables (the loser finds them made on the next attempt); a server starting up
            error = e
            if attempt < DB_ATTEMPTS - 1:
                time.sleep(0.5 * (attempt + 1))
        except Exception as e:  # a malformed URL, a missing driver
            error = e
            break
    assert error is not None
    text = str(getattr(error, "orig", None) or error).strip()
    try:  # never print a password
        shown = make_url(s).render_as_string(hide_password=True)
    except Exception:
        shown = "the storage URL"
    raise ConfigError(f"cannot open the Optuna storage {shown}: "
                      f"{text.splitlines()[0] if text else type(error).__name__}",
                      hint="e.g. postgresql://USER:PASSWORD@HOST:5432/DB (pip install "
                           "'mlplab[sweep]' brings the psycopg driver)")


@contextmanager
def heartbeats(storage: Any, trials: list[optuna.Trial]) -> Iterator[None]:
    """Record a heartbeat for each running trial now and every interval until the block
    ends (what ``study.optimize`` does for its one trial; here a batch trains at once)."""
    interval = getattr(storage, "get_heartbeat_interval", lambda: None)()
    if interval is None:
        yield
        return
    ids = [t._trial_id for t in trials]  # Optuna names trials by id in its storage API

    def beat() -> None:
        for i in ids:
            storage.record_heartbeat(i)

    beat()  # before training, so a worker killed at once still leaves a stale heartbeat
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(interval):
            beat()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


class Pruning(Callback):
    """Reports ``metric`` to an Optuna trial at each evaluation of a member (trained alone or
    stacked: the loop calls it alike) and stops it (``stop_reason`` "pruned") when the pruner
    says so; a stacked member it stops is frozen from the next epoch on."""

    def __init__(self, trial: optuna.Trial, metric: str) -> None:
        self.trial, self.metric = trial, metric

    def on_eval(self, state: TrainState, row: dict[str, Any]) -> None:
        value = row.get(self.metric)
        if value is None or not math.isfinite(value):
            return
        self.trial.report(value, step=row["epoch"])
        if self.trial.should_prune():
            state.stop, state.stop_reason = True, "pruned"


def _open_study(storage: Any, name: str, metric: str, prune: bool,
                seed: int | None, create: bool) -> optuna.Study:
    import optuna

    if not create and name not in optuna.get_all_study_names(storage):
        raise ConfigError(f"no study named '{name}' in this storage",
                          hint="start workers with --optuna N, or check --study/--storage")
    study = optuna.create_study(
        storage=storage, study_name=name, load_if_exists=True,
        sampler=optuna.samplers.TPESampler(seed=seed),
        direction="minimize" if metric.endswith(LOWER_IS_BETTER) else "maximize",
        pruner=optuna.pruners.MedianPruner(n_warmup_steps=0) if prune
        else optuna.pruners.NopPruner())
    ranked_by = study.user_attrs.get("metric")
    if ranked_by is None:
        study.set_user_attr("metric", metric)
    elif ranked_by != metric:
        raise ConfigError(f"study '{name}' ranks trials by {ranked_by}, not {metric}",
                          hint=f"pass --metric {ranked_by}, or use another --study name")
    return study


def optuna_sweep(config: RunConfig | dict[str, Any] | str | Path | None,
                 space: Mapping[str, Any], n_trials: int, *, storage: str | Path | None = None,
                 study_name: str = "mlplab", metric: str | None = None, batch: int = 8,
                 prune: bool = True, out: str | Path | None = None,
                 heartbeat: int | None = HEARTBEAT, seed: int | None = None) -> SweepResult:
    """Run ``n_trials`` trials of an Optuna study, ``batch`` at a time as one ensemble.

    Parameters
    ----------
    config, metric : as for :func:`~mlplab.search.sweep.sweep` (a validation split is added
        when the base has none; the study ranks trials by ``metric`` and refuses another).
    space : dotted path -> choices or ``{low, high, log}``.
    n_trials : trials this call runs (each worker runs its own ``n_trials``); 0 only writes
        the summary of the study as it stands.
    storage, study_name : shared by the workers: a journal file (one machine) or a database
        URL (several machines). Default ``<out>/optuna.journal``.
    out : folder of the members' run directories and the study's ``summary.csv``,
        ``seeds.csv``, ``best.json`` and ``boundaries.png``; default ``runs/sweep-<study>``.
    heartbeat : seconds between heartbeats of running trials on a database storage.
    seed : seeds the sampler (TPE) of this worker; workers of one study need different seeds
        (or None, a fresh one each), or they propose the same trials.
    """
    import optuna

    from mlplab.api import prepare

    base, notes = selection_config(RunConfig.from_any(config))
    out_dir = Path(out) if out is not None else Path("runs") / f"sweep-{study_name}"
    metric = check_metric(metric, prepare(base).task.name)
    check_space(base, space)
    store = optuna_storage(storage, out_dir, heartbeat)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = _open_study(store, study_name, metric, prune, seed, create=n_trials > 0)
    local: dict[str, tuple[Run, Prepared]] = {}
    runs: list[Run] = []
    n_batched, done, t0 = 0, 0, time.perf_counter()
    while done < n_trials:
        with warnings.catch_warnings():  # heartbeats are ours, not study.optimize's
            warnings.simplefilter("ignore")
            optuna.storages.fail_stale_trials(study)
            trials = [study.ask() for _ in range(min(batch, n_trials - done))]
        try:
            with heartbeats(store, trials):
                batch_runs, nb = _run_batch(study, trials, base, space, metric, prune,
                                            out_dir, local)
        except BaseException:  # an error or Ctrl-C: no trial of this batch stays "running"
            for t in trials:
                with contextlib.suppress(Exception):  # those already told stay as told
                    study.tell(t, state=optuna.trial.TrialState.FAIL)
            raise
        runs += batch_runs
        n_batched += nb
        done += len(trials)
        res = study_result(study, base.name, list(space), metric, runs, notes)
        save_sweep(res, out_dir)  # after every batch: the summary is current
    res = study_result(study, base.name, list(space), metric, runs, notes)
    res.seconds, res.n_batched = time.perf_counter() - t0, n_batched
    save_sweep(res, out_dir, {**_members_on_disk(res, local), **local}, plots=base.log.plots)
    return res


def _members_on_disk(res: SweepResult, local: Mapping[str, tuple[Run, Prepared]],
                     limit: int = 64) -> dict[str, tuple[Run, Prepared]]:
    """Other workers' best members whose run directories this machine can read (a shared
    sweep folder), reloaded with their data, so that the boundary grid shows the study."""
    from mlplab.api import prepare
    from mlplab.runs.run import load

    if not local or next(iter(local.values()))[1].n_features != 2:
        return {}
    ranked = res.ranked()
    found = {}
    for _, row in ranked[ranked["state"] == COMPLETE].head(limit).iterrows():
        path = Path(str(row.get("path") or ""))
        if row["member"] not in local and (path / "model.json").is_file():
            run = load(path)
            found[row["member"]] = (run, prepare(run.config))
    return found


def _run_batch(study: optuna.Study, trials: list[optuna.Trial], base: RunConfig,
               space: Mapping[str, Any], metric: str, prune: bool, out_dir: Path,
               local: dict[str, tuple[Run, Prepared]]) -> tuple[list[Run], int]:
    """Train one batch of asked trials, save each member and tell the study how it ended."""
    import optuna

    from mlplab.api import prepare

    names = [f"{base.name}-t{t.number:04d}" for t in trials]
    params = [suggest(t, space) for t in trials]
    cfgs = member_configs(base, names, params)
    dirs = [out_dir / n for n in names]
    check_writable(cfgs, dirs, overwrite=False)
    preps = [prepare(c) for c in cfgs]

    def pruning(i: int, trials: list[optuna.Trial] = trials) -> list[Callback]:
        return [Pruning(trials[i], metric)] if prune else []

    outcomes, nb = run_configs(cfgs, preps, dirs=dirs, callbacks=pruning)
    batch_runs = []
    for j, (t, r, name) in enumerate(zip(trials, outcomes, names, strict=True)):
        if isinstance(r, TrainingError):
            t.set_user_attr("row", {**failed_row(name, {}, r), "host": socket.gethostname()})
            study.tell(t, state=optuna.trial.TrialState.FAIL)
            continue
        batch_runs.append(r)
        if r.path is None:
            r.save(dirs[j])
        state = run_state(r, metric)
        row = member_row(name, {}, r, state)
        row["path"] = str(Path(row["path"]).resolve())  # other machines read it too
        t.set_user_attr("row", {**row, "host": socket.gethostname()})
        value = (r.metrics.get(metric.split("_", 1)[0]) or {}).get(metric.split("_", 1)[1])
        study.tell(t, value if state == COMPLETE else None,
                   state={COMPLETE: None, PRUNED: optuna.trial.TrialState.PRUNED,
                          FAILED: optuna.trial.TrialState.FAIL}[state])
        local[name] = (r, preps[j])
    return batch_runs, nb


def study_result(study: optuna.Study, name: str, keys: list[str], metric: str,
                 runs: list[Run], notes: list[str]) -> SweepResult:
    """Every trial of the study as a member row (other workers' trials included)."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        row = dict(t.user_attrs.get("row") or {"member": f"{name}-t{t.number:04d}"})
        params = decode_params(t)
        rows.append({"member": row.pop("member"), "trial": t.number, **params,
                     **row, "state": t.state.name.lower()})
    return SweepResult(keys, rows, metric, runs, notes=notes)


__all__ = ["Pruning", "heartbeats", "optuna_storage", "optuna_sweep", "study_result"]
