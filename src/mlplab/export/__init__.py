"""Exports of a run: graph formats (ONNX, TorchScript, ExportedProgram) and a standalone script.

``from mlplab.export import encode_rows, export`` keeps working; the code lives in
:mod:`mlplab.export.graph` and :mod:`mlplab.export.script`.
"""

from mlplab.export.graph import FORMATS, ExportResult, RawInputModel, encode_rows, export, signature

__all__ = ["FORMATS", "ExportResult", "RawInputModel", "encode_rows", "export", "signature"]
