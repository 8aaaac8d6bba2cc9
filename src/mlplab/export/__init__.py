"""Exports of a run: graph formats (ONNX, TorchScript, ExportedProgram) and plain-PyTorch code
(``predict.py``, ``train.py``, a notebook), all written by :func:`export`.

``from mlplab.export import encode_rows, export`` keeps working; the code lives in
:mod:`.api` (the formats), :mod:`.graph` (serving graphs), :mod:`.codegen` with :mod:`.train`,
:mod:`.datacode`, :mod:`.script` and :mod:`.notebook` (the one code generator).
"""

from mlplab.export.api import FORMATS, ExportResult, export
from mlplab.export.graph import RawInputModel, encode_rows, signature

__all__ = ["FORMATS", "ExportResult", "RawInputModel", "encode_rows", "export", "signature"]
