"""What a weights file says about itself, read from its header only (never the weights).

- safetensors: 8-byte little-endian header length, then a JSON header.
- GGUF (v1-v3): magic, counts, metadata key/values, tensor infos.
- ONNX: the protobuf ModelProto, walked field by field with seeks, so tensor data
  (raw_data) is skipped rather than read.

Each returns {"format", "tensor_count", "parameter_count", "dtypes", ...} or None.
"""

from __future__ import annotations

import json
import struct
from math import prod
from pathlib import Path
from typing import IO, Any

MAX_HEADER = 256 << 20  # refuse absurd headers instead of allocating them


SUFFIXES = (".safetensors", ".gguf", ".onnx")


def describe(path: Path, by_suffix_only: bool = False) -> dict[str, Any] | None:
    """Header facts of a weights file; None for anything else (or unreadable)."""
    if by_suffix_only and path.suffix.lower() not in SUFFIXES:
        return None
    if not path.is_file():
        return None
    try:
        with open(path, "rb") as f:
            head = f.read(8)
            f.seek(0)
            if head[:4] == b"GGUF":
                return _gguf(f)
            suffix = path.suffix.lower()
            if suffix == ".safetensors":
                return _safetensors(f)
            if suffix == ".onnx":
                return _onnx(f, path.stat().st_size)
    except (OSError, ValueError, struct.error, UnicodeDecodeError, KeyError, TypeError, IndexError):
        return None  # unreadable, or not what its name says: describe nothing rather than guess
    return None


# --- safetensors -----------------------------------------------------------------
def _safetensors(f: IO[bytes]) -> dict[str, Any] | None:
    (length,) = struct.unpack("<Q", f.read(8))
    if length > MAX_HEADER:
        return None
    header = json.loads(f.read(length))
    meta = header.pop("__metadata__", {}) or {}
    dtypes = sorted({t["dtype"] for t in header.values()})
    out = {
        "format": "safetensors",
        "tensor_count": len(header),
        "parameter_count": sum(prod(t["shape"]) for t in header.values()),
        "dtypes": dtypes,
    }
    if meta:
        out["metadata"] = {str(k): str(v) for k, v in meta.items()}
    return out


# --- GGUF ---------------------------------------------------------------------------
GGML_TYPES = {
    0: "F32",
    1: "F16",
    2: "Q4_0",
    3: "Q4_1",
    6: "Q5_0",
    7: "Q5_1",
    8: "Q8_0",
    9: "Q8_1",
    10: "Q2_K",
    11: "Q3_K",
    12: "Q4_K",
    13: "Q5_K",
    14: "Q6_K",
    15: "Q8_K",
    16: "IQ2_XXS",
    17: "IQ2_XS",
    18: "IQ3_XXS",
    19: "IQ1_S",
    20: "IQ4_NL",
    21: "IQ3_S",
    22: "IQ2_S",
    23: "IQ4_XS",
    24: "I8",
    25: "I16",
    26: "I32",
    27: "I64",
    28: "F64",
    29: "IQ1_M",
    30: "BF16",
}
GGUF_FILE_TYPES = {
    0: "ALL_F32",
    1: "MOSTLY_F16",
    2: "MOSTLY_Q4_0",
    3: "MOSTLY_Q4_1",
    7: "MOSTLY_Q8_0",
    8: "MOSTLY_Q5_0",
    9: "MOSTLY_Q5_1",
    10: "MOSTLY_Q2_K",
    11: "MOSTLY_Q3_K_S",
    12: "MOSTLY_Q3_K_M",
    13: "MOSTLY_Q3_K_L",
    14: "MOSTLY_Q4_K_S",
    15: "MOSTLY_Q4_K_M",
    16: "MOSTLY_Q5_K_S",
    17: "MOSTLY_Q5_K_M",
    18: "MOSTLY_Q6_K",
    32: "MOSTLY_BF16",
}
_SCALARS = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}


class _Reader:
    def __init__(self, f: IO[bytes], version: int) -> None:
        self.f = f
        self.count_fmt = "<I" if version == 1 else "<Q"

    def unpack(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        data = self.f.read(size)
        if len(data) != size:
            raise ValueError("truncated GGUF header")
        return struct.unpack(fmt, data)[0]

    def count(self) -> int:
        value = self.unpack(self.count_fmt)
        if value > 1 << 40:
            raise ValueError("implausible GGUF count")
        return value

    def string(self) -> str:
        length = self.count()
        if length > MAX_HEADER:
            raise ValueError("implausible GGUF string")
        return self.f.read(length).decode("utf-8")

    def value(self, kind: int) -> Any:
        if kind in _SCALARS:
            return self.unpack(_SCALARS[kind])
        if kind == 8:
            return self.string()
        if kind == 9:
            item_kind = self.unpack("<I")
            return [self.value(item_kind) for _ in range(self.count())]
        raise ValueError(f"unknown GGUF value type {kind}")


def _gguf(f: IO[bytes]) -> dict[str, Any] | None:
    f.read(4)
    version = struct.unpack("<I", f.read(4))[0]
    if version not in (1, 2, 3):
        return None
    r = _Reader(f, version)
    tensor_count, kv_count = r.count(), r.count()
    metadata: dict[str, Any] = {}
    for _ in range(kv_count):
        key = r.string()
        value = r.value(r.unpack("<I"))
        if not isinstance(value, list):
            metadata[key] = value
    params, dtypes = 0, set()
    for _ in range(tensor_count):
        r.string()
        dims = [r.unpack("<Q") if version > 1 else r.unpack("<I") for _ in range(r.unpack("<I"))]
        dtype = r.unpack("<I")
        r.unpack("<Q")  # offset
        params += prod(dims)
        dtypes.add(GGML_TYPES.get(dtype, f"type{dtype}"))
    out: dict[str, Any] = {
        "format": f"gguf v{version}",
        "tensor_count": tensor_count,
        "parameter_count": params,
        "dtypes": sorted(dtypes),
    }
    if "general.file_type" in metadata:
        out["quantization"] = GGUF_FILE_TYPES.get(
            metadata["general.file_type"], str(metadata["general.file_type"])
        )
    for key in ("general.architecture", "general.name"):
        if key in metadata:
            out[key.split(".", 1)[1]] = str(metadata[key])
    return out


# --- ONNX ---------------------------------------------------------------------------
ONNX_TYPES = {
    1: "FLOAT",
    2: "UINT8",
    3: "INT8",
    4: "UINT16",
    5: "INT16",
    6: "INT32",
    7: "INT64",
    8: "STRING",
    9: "BOOL",
    10: "FLOAT16",
    11: "DOUBLE",
    12: "UINT32",
    13: "UINT64",
    16: "BFLOAT16",
}


def _varint(f: IO[bytes]) -> int:
    shift = result = 0
    while True:
        byte = f.read(1)
        if not byte:
            raise ValueError("truncated varint")
        result |= (byte[0] & 0x7F) << shift
        if not byte[0] & 0x80:
            return result
        shift += 7
        if shift > 63:
            raise ValueError("bad varint")


def _fields(f: IO[bytes], end: int):  # type: ignore[no-untyped-def]
    """(field number, wire type, value or (start, length) for length-delimited)."""
    while f.tell() < end:
        key = _varint(f)
        number, wire = key >> 3, key & 7
        if wire == 0:
            yield number, wire, _varint(f)
        elif wire == 1:
            yield number, wire, f.read(8)
        elif wire == 5:
            yield number, wire, f.read(4)
        elif wire == 2:
            length = _varint(f)
            start = f.tell()
            if start + length > end:
                raise ValueError("field runs past its message")
            yield number, wire, (start, length)
            f.seek(start + length)
        else:
            raise ValueError(f"unsupported wire type {wire}")


def _onnx(f: IO[bytes], size: int) -> dict[str, Any] | None:
    out: dict[str, Any] = {"format": "onnx", "tensor_count": 0, "parameter_count": 0}
    dtypes: set[str] = set()
    found_graph = False
    for number, wire, value in list(_fields(f, size)):
        if number == 1 and wire == 0:
            out["ir_version"] = value
        elif number == 2 and wire == 2:
            f.seek(value[0])
            out["producer"] = f.read(min(value[1], 200)).decode("utf-8", "replace")
        elif number == 7 and wire == 2:
            found_graph = True
            start, length = value
            f.seek(start)
            for g_number, g_wire, g_value in list(_fields(f, start + length)):
                if g_number == 5 and g_wire == 2:  # initializer: TensorProto
                    t_start, t_length = g_value
                    f.seek(t_start)
                    dims, dtype = [], 0
                    for t_number, t_wire, t_value in list(_fields(f, t_start + t_length)):
                        if t_number == 1 and t_wire == 0:
                            dims.append(t_value)
                        elif t_number == 1 and t_wire == 2:  # packed dims
                            f.seek(t_value[0])
                            stop = t_value[0] + t_value[1]
                            while f.tell() < stop:
                                dims.append(_varint(f))
                        elif t_number == 2 and t_wire == 0:
                            dtype = t_value
                    out["tensor_count"] += 1
                    out["parameter_count"] += prod(dims)
                    dtypes.add(ONNX_TYPES.get(dtype, f"type{dtype}"))
    if not found_graph:
        return None
    out["dtypes"] = sorted(dtypes)
    return out
