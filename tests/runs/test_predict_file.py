"""``predict_file``: a file streamed chunk by chunk gives the same CSV as the file read whole,
which is what ``mlplab predict`` wrote before (``predict_frame`` of the whole frame)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mlplab
from mlplab.data.tabular import read_frame
from mlplab.errors import DataError
from mlplab.runs.predict_file import predict_file


@pytest.fixture(scope="module")
def run() -> mlplab.Run:
    rng = np.random.default_rng(0)
    X = rng.normal(2.0, 3.0, (300, 3))
    frame = pd.DataFrame(X, columns=["a", "b", "c"]).assign(
        y=np.where(X[:, 0] > 2, "hi", "lo"))
    return mlplab.train({"data": {"target": "y"}, "model": {"hidden": [8]},
                         "train": {"epochs": 10}, "log": {"quiet": True}}, data=frame,
                        save=False)


def rows(n: int) -> pd.DataFrame:
    X = np.random.default_rng(1).normal(2.0, 3.0, (n, 3))
    return pd.DataFrame(X, columns=["a", "b", "c"]).assign(
        id=np.arange(n), y=np.where(X[:, 0] > 2, "hi", "lo"))


def whole_frame_csv(run: mlplab.Run, path) -> str:
    """What `mlplab predict` wrote before: predict_frame of the whole file, target dropped."""
    frame = read_frame(path)
    return run.predict_frame(frame.drop(columns=["y"])).to_csv(index=False)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_streamed_chunks_equal_the_whole_file(run, tmp_path, suffix) -> None:
    src = tmp_path / f"rows{suffix}"
    data = rows(2500)
    data.to_csv(src, index=False) if suffix == ".csv" else data.to_parquet(src)
    out = tmp_path / "out.csv"
    assert predict_file(run, src, out, stream=True, chunk_rows=1000) == 2500  # 3 chunks
    text = out.read_text()
    assert text == whole_frame_csv(run, src)
    whole = tmp_path / "whole.csv"
    predict_file(run, src, whole, stream=False)
    assert whole.read_text() == text
    head = text.splitlines()[0]
    assert head == "a,b,c,id," + ",".join(f"proba_{c}" for c in run.classes) + ",predicted_y"


def test_standard_output_and_no_half_file_on_error(run, tmp_path, capsys) -> None:
    src = tmp_path / "rows.csv"
    data = rows(2500)
    data.to_csv(src, index=False)
    predict_file(run, src, None, stream=True, chunk_rows=1000)
    assert capsys.readouterr().out == whole_frame_csv(run, src)
    data.loc[2200, "b"] = np.inf  # in the third chunk, after two were written
    data.to_csv(src, index=False)
    out = tmp_path / "out.csv"
    with pytest.raises(DataError, match="non-finite value in column 'b'"):
        predict_file(run, src, out, stream=True, chunk_rows=1000)
    assert list(tmp_path.iterdir()) == [src]  # neither the output nor its temporary file
