"""The data that crosses between the trusted grader and a sandbox: framing and a data-only codec.

Messages are length-prefixed frames: a JSON header whose values are plain JSON or tagged nodes
(``{"$": "a", ...}`` for arrays and so on), then the raw bytes of the arrays. Decoding builds
only plain data (numbers, strings, bytes, None, tuples, lists, dicts, sets, NumPy arrays of
numbers/strings, NumPy random generators by their state) and the few tags each side asks for
(handles, references); it never unpickles and never imports anything named in a message.
Depth, node count and frame size are limited so a hostile sandbox cannot exhaust the grader.
Only the trusted side ever sends pickled bytes (``"pk"``: a pure function by value) and only
the sandbox ever loads them.
"""
from __future__ import annotations

import json
import os
import select
import struct
from time import monotonic
from typing import Any, Callable

import numpy as np

MAX_FRAME = 256 * 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 2_000_000
ALLOWED_KINDS = set("biufcUS")


class WireError(ValueError):
    """A malformed, oversized or forbidden message."""


class ChannelClosed(EOFError):
    """The other side closed its end (or died)."""


# --------------------------------------------------------------------------- framing
def send(fd: int, header: dict, blobs: list[bytes]) -> None:
    """Write one frame: header JSON and blobs."""
    head = json.dumps(header, allow_nan=True).encode()
    parts = [struct.pack("<QI", len(head) + 4 + sum(len(b) + 8 for b in blobs), len(head)), head]
    for blob in blobs:
        parts += [struct.pack("<Q", len(blob)), blob]
    data = memoryview(b"".join(parts))
    while data:
        n = os.write(fd, data)
        data = data[n:]


def _read_exact(fd: int, n: int, deadline: float | None) -> bytes:
    chunks, left = [], n
    while left:
        if deadline is not None:
            wait = deadline - monotonic()
            if wait <= 0 or not select.select([fd], [], [], wait)[0]:
                raise TimeoutError
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise ChannelClosed("channel closed")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def recv(fd: int, deadline: float | None = None) -> tuple[dict, list[bytes]]:
    """Read one frame (TimeoutError when ``deadline`` passes before its first byte arrives)."""
    size, head_len = struct.unpack("<QI", _read_exact(fd, 12, deadline))
    if size > MAX_FRAME or head_len > size:
        raise WireError(f"frame of {size} bytes is over the limit")
    body = _read_exact(fd, size - 4, None if deadline is None else max(deadline, monotonic() + 30))
    try:
        header = json.loads(body[:head_len])
    except (ValueError, RecursionError) as error:
        raise WireError(f"unreadable header: {type(error).__name__}") from None
    blobs, pos = [], head_len
    while pos < len(body):
        (n,) = struct.unpack_from("<Q", body, pos)
        pos += 8
        if pos + n > len(body):
            raise WireError("truncated blob")
        blobs.append(body[pos:pos + n])
        pos += n
    if not isinstance(header, dict):
        raise WireError("header is not an object")
    return header, blobs


# --------------------------------------------------------------------------- codec
class Encoder:
    """Turns a value into JSON-able nodes plus blobs.

    ``special(value)`` may return a node for values this side wants to encode its own way
    (handles, callbacks, references); it returns None for ordinary values.
    """

    def __init__(self, special: Callable[[Any], dict | None] | None = None, table: list | None = None) -> None:
        self.blobs: list[bytes] = []
        self.special = special
        self.nodes = 0
        self.table = table  # mutable values sent, in order (marked "mut"), for writing back after a call

    def __call__(self, value: Any, depth: int = 0) -> Any:
        node = self._encode(value, depth)
        if self.table is not None and isinstance(node, dict) and mutable(value):
            node["mut"] = True
            self.table.append(value)
        return node

    def array(self, a: np.ndarray) -> dict:
        a = np.asarray(a)
        if not a.flags.c_contiguous:
            a = a.copy(order="C")
        if a.dtype.kind not in ALLOWED_KINDS:
            raise WireError(f"an array of dtype {a.dtype} cannot be sent")
        self.blobs.append(a.tobytes())
        return {"$": "a", "b": len(self.blobs) - 1, "dt": a.dtype.str, "sh": list(a.shape)}

    def _encode(self, value: Any, depth: int = 0) -> Any:
        self.nodes += 1
        if depth > MAX_DEPTH or self.nodes > MAX_NODES:
            raise WireError("value nested too deeply or too large to send")
        if self.special is not None:
            node = self.special(value)
            if node is not None:
                return node
        if isinstance(value, np.ndarray):
            return self.array(value)
        if isinstance(value, np.generic):
            return {"$": "s", "a": self.array(np.asarray(value))}
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, int):
            return value if abs(value) < 2**63 else {"$": "bigint", "v": str(value)}
        if isinstance(value, float):
            return {"$": "f", "v": repr(value)} if value != value or value in (float("inf"), float("-inf")) else value
        if isinstance(value, complex):
            return {"$": "c", "re": self(value.real, depth + 1), "im": self(value.imag, depth + 1)}
        if isinstance(value, bytes):
            self.blobs.append(bytes(value))
            return {"$": "by", "b": len(self.blobs) - 1}
        if isinstance(value, tuple):
            return {"$": "t", "v": [self(v, depth + 1) for v in value]}
        if isinstance(value, list):
            return {"$": "l", "v": [self(v, depth + 1) for v in value]}
        if isinstance(value, (set, frozenset)):
            return {"$": "set" if isinstance(value, set) else "fset", "v": [self(v, depth + 1) for v in value]}
        if isinstance(value, dict):
            return {"$": "d", "k": [self(k, depth + 1) for k in value], "v": [self(v, depth + 1) for v in value.values()]}
        if isinstance(value, np.random.Generator):
            return {"$": "rng", "state": self(value.bit_generator.state, depth + 1)}
        if isinstance(value, np.random.RandomState):
            return {"$": "rs", "state": self(value.get_state(legacy=False), depth + 1)}
        raise WireError(f"a {type(value).__name__} cannot be sent as data")


class Decoder:
    """Turns nodes back into values; ``special(tag, node)`` handles this side's extra tags."""

    def __init__(self, blobs: list[bytes], special: Callable[[str, dict], Any] | None = None,
                 table: list | None = None) -> None:
        self.blobs = blobs
        self.special = special
        self.nodes = 0
        self.table = table

    def __call__(self, node: Any, depth: int = 0) -> Any:
        value = self._decode(node, depth)
        if self.table is not None and isinstance(node, dict) and node.get("mut"):
            self.table.append(value)
        return value

    def blob(self, node: dict) -> bytes:
        index = node.get("b")
        if not isinstance(index, int) or not 0 <= index < len(self.blobs):
            raise WireError("bad blob index")
        return self.blobs[index]

    def array(self, node: dict) -> np.ndarray:
        try:
            dtype = np.dtype(str(node.get("dt")))
            shape = tuple(int(s) for s in node.get("sh", ()))
        except (TypeError, ValueError):
            raise WireError("bad array header") from None
        if dtype.kind not in ALLOWED_KINDS or dtype.fields is not None or dtype.subdtype is not None:
            raise WireError(f"arrays of dtype {dtype} are not accepted")
        if len(shape) > 32 or any(s < 0 for s in shape):
            raise WireError("bad array shape")
        data = self.blob(node)
        if int(np.prod(shape, dtype=object)) * dtype.itemsize != len(data):
            raise WireError("array size does not match its data")
        return np.frombuffer(data, dtype=dtype).reshape(shape).copy()

    def _decode(self, node: Any, depth: int = 0) -> Any:
        self.nodes += 1
        if depth > MAX_DEPTH or self.nodes > MAX_NODES:
            raise WireError("value nested too deeply or too large")
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            raise WireError("untagged list")
        if not isinstance(node, dict):
            raise WireError("unexpected node")
        tag = node.get("$")
        if tag == "a":
            return self.array(node)
        if tag == "s":
            return self.array(node.get("a") or {})[()]
        if tag == "f":
            if node.get("v") not in ("nan", "inf", "-inf"):
                raise WireError("bad float")
            return float(node["v"])
        if tag == "bigint":
            try:
                return int(str(node.get("v"))[:5000])
            except ValueError:
                raise WireError("bad integer") from None
        if tag == "c":
            return complex(self._number(node.get("re"), depth), self._number(node.get("im"), depth))
        if tag == "by":
            return bytes(self.blob(node))
        if tag in ("t", "l", "set", "fset"):
            items = node.get("v")
            if not isinstance(items, list):
                raise WireError("bad sequence")
            values = [self(v, depth + 1) for v in items]
            try:
                return {"t": tuple, "l": list, "set": set, "fset": frozenset}[tag](values)
            except TypeError:
                raise WireError("unhashable set member") from None
        if tag == "d":
            keys, values = node.get("k"), node.get("v")
            if not isinstance(keys, list) or not isinstance(values, list) or len(keys) != len(values):
                raise WireError("bad dict")
            out = {}
            for k, v in zip(keys, values):
                key = self(k, depth + 1)
                try:
                    out[key] = self(v, depth + 1)
                except TypeError:
                    raise WireError("unhashable dict key") from None
            return out
        if tag in ("rng", "rs"):
            state = self(node.get("state"), depth + 1)
            return restore_rng(tag, state)
        if self.special is not None and isinstance(tag, str):
            return self.special(tag, node)
        raise WireError(f"unknown tag {str(tag)[:20]!r}")

    def _number(self, node: Any, depth: int) -> float:
        value = self(node, depth + 1)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise WireError("bad number")
        return float(value)


def mutable(value: Any) -> bool:
    """Can a call change this argument in place (so its post-call state is sent back)?"""
    if isinstance(value, (np.ndarray, list, dict, set, np.random.Generator, np.random.RandomState)):
        return True
    return type(value).__name__ in ("ResourceVariable", "Variable") and hasattr(value, "assign")


_BIT_GENERATORS = {"PCG64": np.random.PCG64, "PCG64DXSM": np.random.PCG64DXSM, "MT19937": np.random.MT19937,
                   "Philox": np.random.Philox, "SFC64": np.random.SFC64}


def restore_rng(tag: str, state: Any) -> Any:
    """A NumPy Generator / RandomState in ``state`` (only NumPy's own bit generators)."""
    if not isinstance(state, dict) or state.get("bit_generator") not in _BIT_GENERATORS:
        raise WireError("bad random generator state")
    bit = _BIT_GENERATORS[state["bit_generator"]]()
    try:
        bit.state = state
    except (TypeError, ValueError, KeyError):
        raise WireError("bad random generator state") from None
    return np.random.Generator(bit) if tag == "rng" else np.random.RandomState(bit)


def rng_state(value: Any) -> dict:
    return value.bit_generator.state if isinstance(value, np.random.Generator) else value.get_state(legacy=False)


def set_rng_state(target: Any, state: Any) -> None:
    """Give the trusted generator ``target`` the state the sandbox left its copy in."""
    if isinstance(target, np.random.Generator):
        target.bit_generator.state = state
    else:
        target.set_state(state)
