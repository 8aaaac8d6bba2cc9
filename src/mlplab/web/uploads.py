"""CSV uploads for the playground: size-limited, parsed in memory, never written to disk.

An upload is kept (up to ``limits.max_uploads``, oldest evicted) under a random id; sessions
refer to it by that id, so no path sent by a client is ever opened on the server.

Example
-------
>>> store = UploadStore(Limits())
>>> up = store.add(b"a,b,label\\n1,2,x\\n3,4,y\\n5,6,x\\n7,8,y\\n", "mine.csv")
>>> up.summary()["columns"][2]["name"], up.summary()["target"], up.filename
('label', 'label', 'mine.csv')
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

import pandas as pd

from mlplab.data.encoders import is_numeric_column
from mlplab.errors import DataError
from mlplab.web.limits import LimitError, Limits


@dataclass
class Upload:
    """A parsed table and the name the user gave it (display only)."""

    id: str
    filename: str
    frame: pd.DataFrame

    def summary(self) -> dict[str, Any]:
        """Columns with their kind, for the page's target / feature choosers."""
        cols = []
        for c in self.frame.columns:
            col = self.frame[c]
            cols.append({"name": c, "numeric": bool(is_numeric_column(col)),
                         "unique": int(col.nunique()), "missing": int(col.isna().sum())})
        numeric = [c["name"] for c in cols if c["numeric"]]
        target = str(self.frame.columns[-1])
        draw = [n for n in numeric if n != target][:2]
        return {"id": self.id, "filename": self.filename, "rows": len(self.frame),
                "columns": cols, "target": target, "draw": draw}


def safe_name(name: str | None) -> str:
    """The base name of an uploaded file, reduced to harmless characters.

    >>> safe_name("../../etc/passwd"), safe_name("my data (1).csv"), safe_name(None)
    ('passwd.csv', 'my_data_1.csv', 'upload.csv')
    """
    base = PurePath((name or "").replace("\\", "/")).name
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", base.rsplit(".", 1)[0] if "." in base else base)
    stem = stem.strip("._")[:60] or "upload"
    return f"{stem}.csv"


def human_bytes(n: int) -> str:
    """A size as people write it (decimal units, as file managers show them).

    >>> human_bytes(2_000_001), human_bytes(950), human_bytes(12_345)
    ('2.0 MB', '950 bytes', '12.3 kB')
    """
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} bytes"


def parse_csv(data: bytes, limits: Limits) -> pd.DataFrame:
    """Parse CSV/TSV bytes (UTF-8, separator sniffed) into a frame, checking the caps."""
    if len(data) > limits.max_upload_bytes:
        raise LimitError("file too large",
                         expected=f"at most {human_bytes(limits.max_upload_bytes)}",
                         found=human_bytes(len(data)), hint="upload a sample of the rows")
    if not data.strip():
        raise DataError("the file is empty", expected="a header line and data rows")
    if b"\0" in data[:65536]:
        raise DataError("not a text table", found="binary bytes", hint="upload a UTF-8 CSV")
    try:
        text = codecs.decode(data, "utf-8-sig")
    except UnicodeDecodeError:
        raise DataError("not a text table", found="bytes that are not UTF-8",
                        hint="save the file as UTF-8 CSV") from None
    lines = text.splitlines()
    try:
        sep = csv.Sniffer().sniff("\n".join(lines[:20]), delimiters=",\t;|").delimiter
    except csv.Error:
        sep = ","
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, skipinitialspace=True, engine="c",
                            low_memory=False)
    except pd.errors.EmptyDataError:
        raise DataError("the file is empty", expected="a header line and data rows") from None
    except (pd.errors.ParserError, ValueError) as e:
        first = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
        raise DataError("the file is not a well-formed CSV", found=first,
                        hint="check separators and quotes") from None
    frame.columns = [str(c) for c in frame.columns]
    if len(frame) == 0 or frame.shape[1] < 2:
        raise DataError("the table is too small", expected="a header, rows and >= 2 columns",
                        found=f"{len(frame)} rows, {frame.shape[1]} columns")
    if len(frame) > limits.max_samples:
        raise LimitError("too many rows", expected=f"at most {limits.max_samples}",
                         found=str(len(frame)), hint="upload a sample of the rows")
    if frame.shape[1] > limits.max_features + 1:
        raise LimitError("too many columns", expected=f"at most {limits.max_features + 1}",
                         found=str(frame.shape[1]))
    return frame


class UploadStore:
    """Parsed uploads in memory, by id; the oldest go when ``max_uploads`` is reached."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.items: OrderedDict[str, Upload] = OrderedDict()
        self.lock = threading.Lock()

    def add(self, data: bytes, filename: str | None) -> Upload:
        frame = parse_csv(data, self.limits)
        up = Upload(secrets.token_urlsafe(12), safe_name(filename), frame)
        with self.lock:
            self.items[up.id] = up
            while len(self.items) > self.limits.max_uploads:
                self.items.popitem(last=False)
        return up

    def get(self, uid: str) -> Upload:
        with self.lock:
            up = self.items.get(uid)
        if up is None:
            raise DataError("unknown or expired upload", hint="upload the file again")
        return up
