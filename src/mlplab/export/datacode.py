"""The data step of a generated script: code that rebuilds the run's raw table.

It defines ``frame``, a DataFrame with the run's input and target columns holding the same
rows, in the same order, as mlplab's table after its missing-value step
(:func:`mlplab.data.clean_missing`). Generated data repeats mlplab's generator with the
run's settings and seed; scikit-learn's bundled datasets and the shipped penguins CSV are
read as mlplab reads them; files are read with the separator and encoding mlplab found.

Example
-------
>>> from mlplab.config import RunConfig
>>> code = data_code(RunConfig.from_dict({"data": {"source": "moons"}}), ["x1", "x2"],
...                  ["y"], n_classes=2)
>>> "NOISE = 0.1" in code and "make_moons(n, noise=NOISE, random_state=seed)" in code
True
"""

from __future__ import annotations

import codecs
import csv
from importlib import resources
from pathlib import Path

from mlplab import registry
from mlplab.config import RunConfig
from mlplab.data.synthetic import CIRCLES_FACTOR, DEFAULT_NOISE
from mlplab.errors import RunError

# generator -> body of ``draw(n, seed)`` that sets X (n, d) and y (n,) as mlplab's does
DRAW_CODE: dict[str, str] = {
    "disk": """g = torch.Generator().manual_seed(seed)
    pts = torch.randn(n, 2, generator=g)  # (n, 2)
    y = (pts.pow(2).sum(1) < 1).long()  # 1 inside the unit circle
    if NOISE > 0:
        pts = pts + NOISE * torch.randn(n, 2, generator=g)  # jitter after labelling
    X, y = pts.numpy(), y.numpy()""",
    "circles": f"""from sklearn.datasets import make_circles
    X, y = make_circles(n, noise=NOISE, factor={CIRCLES_FACTOR}, random_state=seed)""",
    "moons": """from sklearn.datasets import make_moons
    X, y = make_moons(n, noise=NOISE, random_state=seed)""",
    "blobs": """from sklearn.datasets import make_blobs
    X, y = make_blobs(n, n_features=N_FEATURES, centers=N_CLASSES, cluster_std=NOISE,
                      random_state=seed)""",
    "gaussians": """g = torch.Generator().manual_seed(seed)
    y = (torch.arange(n) >= n - n // 2).long()  # class 0 first, as the tutorial
    centre = torch.where(y[:, None] == 0, 2.0, -2.0)  # (n, 1)
    X = centre + NOISE * torch.randn(n, N_FEATURES, generator=g)  # (n, d)
    X, y = X.numpy(), y.numpy()""",
    "xor": """rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, size=(n, 2))
    y = ((X[:, 0] < 0) != (X[:, 1] < 0)).astype(np.int64)
    if NOISE > 0:
        X = X + rng.normal(0.0, NOISE, size=X.shape)""",
    "spiral": """rng = np.random.default_rng(seed)
    y = np.arange(n, dtype=np.int64) % N_CLASSES  # arm sizes differ by at most one
    r = rng.uniform(0.0, 1.0, size=n)
    t = 4.0 * (y + r) + rng.normal(0.0, NOISE, size=n)
    X = np.stack([r * np.sin(t), r * np.cos(t)], axis=1)
    perm = np.random.default_rng([seed, 3]).permutation(n)
    X, y = X[perm], y[perm]""",
    "random": """g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, N_FEATURES, generator=g)  # (n, d)
    y = torch.randint(0, N_CLASSES, (n,), generator=g)  # labels unrelated to the rows
    X, y = X.numpy(), y.numpy()""",
}

# regression generators -> code that sets X (n, d) and y (n,), float32
REGRESSION_CODE: dict[str, str] = {
    "linear": """g = torch.Generator().manual_seed(DATA_SEED)
X = torch.linspace(0.0, 10.0, N_SAMPLES).reshape(-1, 1)  # (n, 1)
if N_FEATURES > 1:  # more columns: uniform in [0, 10)
    X = torch.cat([X, 10.0 * torch.rand(N_SAMPLES, N_FEATURES - 1, generator=g)], dim=1)
y = 3.0 * X.sum(dim=1) + 2.0 + NOISE * torch.randn(N_SAMPLES, generator=g)  # y = 3x + 2 + noise
X, y = X.numpy().astype(np.float32), y.numpy().astype(np.float32)""",
    "line": """g = torch.Generator().manual_seed(DATA_SEED)
X = (torch.arange(N_SAMPLES, dtype=torch.float64) / N_SAMPLES).reshape(-1, 1)  # (n, 1)
y = 0.7 * X[:, 0] + 0.3 + NOISE * torch.randn(N_SAMPLES, generator=g, dtype=torch.float64)
X, y = X.numpy().astype(np.float32), y.numpy().astype(np.float32)""",
}

REBALANCE_CODE = """

def rebalance(n, seed, minority):
    \"\"\"Draw enough points, keep round(minority * n) of class 1 and the rest of class 0.\"\"\"
    n1 = min(n - 1, max(1, round(minority * n))) if n > 1 else 1
    m = n
    while True:  # double the draw until both classes have enough rows
        X, y = draw(m, seed)
        idx0, idx1 = np.flatnonzero(y == 0), np.flatnonzero(y == 1)
        if len(idx0) >= n - n1 and len(idx1) >= n1:
            rng = np.random.default_rng([seed, 2])
            keep = np.concatenate([rng.choice(idx0, n - n1, replace=False),
                                   rng.choice(idx1, n1, replace=False)])
            keep = keep[rng.permutation(n)]  # mix the classes again
            return X[keep], y[keep]
        m *= 2
"""

FLIP_CODE = """
rng = np.random.default_rng([DATA_SEED, 1])  # label noise: move some labels to another class
n_flip = round(LABEL_NOISE * len(y))
flip = rng.choice(len(y), n_flip, replace=False)
y = y.copy()
y[flip] = (y[flip] + rng.integers(1, N_CLASSES, size=n_flip)) % N_CLASSES"""

# scikit-learn's bundled datasets, as mlplab.data.real loads them
SKLEARN_LOADERS = {"iris": "load_iris", "wine": "load_wine", "breast_cancer": "load_breast_cancer",
                   "digits": "load_digits"}


def data_code(cfg: RunConfig, features: list[str], targets: list[str], *,
              n_classes: int | None, data_file: str | None = None) -> str:
    """Code that defines ``frame`` (raw features + targets) for the run's data source.

    ``n_classes`` is the number of classes of a classification run (None for regression);
    ``data_file`` names the CSV to read when the source is an upload, not a path.
    """
    d = cfg.data
    info = registry.DATASETS.get(d.source)
    if info is not None and info.kind == "synthetic":
        code = _synthetic(cfg, len(features), n_classes)
        return code + f"\nframe = pd.DataFrame(X, columns={features!r})\nframe[{targets[0]!r}] = y"
    if d.source in SKLEARN_LOADERS:
        code = _sklearn(d.source)
    elif info is not None:  # shipped CSV (penguins)
        path = resources.files("mlplab") / "datasets" / f"{d.source}.csv"
        code = (f"# {d.source}.csv ships with mlplab (CC0); copy it next to this script to take"
                f" it home\nDATA_FILE = {str(path)!r}\n"
                "frame = pd.read_csv(DATA_FILE, na_values=['NA'], keep_default_na=True)")
    elif d.source in ("memory", "dataframe", "arrays", "estimator"):
        raise RunError("this run trained on data passed in memory, which a script cannot read",
                       hint="train from a CSV/Parquet file (or a built-in dataset) to export "
                       "a training script")
    else:
        code = _file(d.source, data_file, getattr(d, "encoding", None), targets)
    return code + "\n" + _missing(d.impute, features, targets)


def _synthetic(cfg: RunConfig, n_features: int, n_classes: int | None) -> str:
    d = cfg.data
    if d.source not in DRAW_CODE and d.source not in REGRESSION_CODE:
        raise RunError(f"cannot write the generator '{d.source}' as code yet",
                       hint="use --format script or a graph format")
    noise = DEFAULT_NOISE.get(d.source, 0.0) if d.noise is None else float(d.noise)
    data_seed = cfg.seed if d.seed is None else d.seed
    head = [f"N_SAMPLES = {d.n_samples}", f"NOISE = {noise!r}  # data.noise",
            f"N_FEATURES = {n_features}", f"DATA_SEED = {data_seed}  # the data's own seed"]
    if d.source in REGRESSION_CODE:
        return "\n".join(head) + "\n" + REGRESSION_CODE[d.source]
    head.append(f"N_CLASSES = {n_classes}")
    code = "\n".join(head) + f"\n\n\ndef draw(n, seed):\n    {DRAW_CODE[d.source]}\n" \
        "    return X, y\n"
    if d.imbalance is not None:
        code += REBALANCE_CODE + f"\n\nX, y = rebalance(N_SAMPLES, DATA_SEED, {d.imbalance!r})"
    else:
        code += "\n\nX, y = draw(N_SAMPLES, DATA_SEED)"
    code += "\ny = np.asarray(y, dtype=np.int64)"
    if d.label_noise > 0:
        code += f"\nLABEL_NOISE = {d.label_noise!r}" + FLIP_CODE
    return code + "\nX = np.ascontiguousarray(X, dtype=np.float32)  # (n, d) float32"


def _sklearn(name: str) -> str:
    X, y = registry.DATASETS[name].load()()  # the target's name and whether labels are text
    target = str(y.columns[0])
    loader = SKLEARN_LOADERS[name]
    label = ("np.asarray(bunch.target_names)[bunch.target].astype(str)  # class names"
             if y[target].dtype == object or str(y[target].dtype) == "str"
             else "np.asarray(bunch.target, dtype=np.int64)")
    return (f"from sklearn.datasets import {loader}\n\nbunch = {loader}(as_frame=True)\n"
            f"frame = bunch.data.reset_index(drop=True)\nframe[{target!r}] = {label}")


def _file(source: str, data_file: str | None, encoding: str | None,
          targets: list[str]) -> str:
    path = Path(source)
    shown = data_file or (str(path.resolve()) if path.exists() else path.name)
    if path.suffix.lower() in (".parquet", ".pq"):
        return f"DATA_FILE = {shown!r}\nframe = pd.read_parquet(DATA_FILE)\n" \
            "frame.columns = [str(c) for c in frame.columns]"
    sep, encoding = _text_format(path, encoding, targets)
    return (f"DATA_FILE = {shown!r}  # put the file next to this script, or give its path\n"
            f"frame = pd.read_csv(DATA_FILE, sep={sep!r}, encoding={encoding!r}, "
            "skipinitialspace=True,\n                    low_memory=False)\n"
            "frame.columns = [str(c) for c in frame.columns]")


def _text_format(path: Path, encoding: str | None, expect: list[str]) -> tuple[str, str]:
    """(separator, encoding) as mlplab's reader finds them; defaults when the file is gone."""
    from mlplab.data.tabular import detect_encoding

    default = {".tsv": "\t", ".tab": "\t"}.get(path.suffix.lower(), ",")
    if not path.is_file():
        return default, encoding or "utf-8-sig"
    head = path.read_bytes()[:65536]
    encoding = encoding or detect_encoding(path, head, expect)
    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(head, final=False)
    lines = text.splitlines()
    if lines and default in lines[0] and path.suffix.lower() in (".csv", ".tsv", ".tab"):
        return default, encoding
    try:
        return csv.Sniffer().sniff("\n".join(lines[:20]), delimiters=",\t;|").delimiter, encoding
    except csv.Error:
        return default, encoding


def _missing(impute: str, features: list[str], targets: list[str]) -> str:
    cols = f"frame[{[*features, *targets]!r}]"
    if impute == "drop":
        keep = "frame.notna().all(axis=1)  # data.impute = drop: rows with a gap go"
    else:
        keep = f"frame[{targets!r}].notna().all(axis=1)  # rows without a target go"
    return (f"frame = {cols}\nkeep = {keep}\n"
            "frame = frame[keep].reset_index(drop=True)")


__all__ = ["data_code"]
