"""The trusted side of the channel: the student's objects seen as proxies that pass only data.

A check runs in the grader's own process and is handed :class:`RemoteFunction` proxies for the
names in its check cell. Calling one sends the arguments as data to the sandbox, where the
student's function runs, and returns its result as data (:mod:`helpers.grade.wire`):

* NumPy arrays, numbers, strings, bytes, tuples/lists/dicts/sets, NumPy random generators (by
  state); TensorFlow tensors and variables go in as tensors and come back as arrays; Keras
  layers and models cross as config + weights (rebuilt with ``safe_mode``, Keras classes only);
  other objects come back as :class:`RemoteObject` handles (attribute reads and calls proxied).
* After each call the sandbox returns what every mutable argument holds, and the proxy writes
  that into the grader's own objects, so a check sees in-place changes exactly as it would
  in-process (and ``checks.call`` can detect them). A result that *is* one of the arguments
  comes back as that very object.
* A function argument is sent by value (cloudpickle) when it is pure (closes over modules,
  numbers, arrays and other pure functions only, e.g. ``lambda x: x ** 3``), so the student can
  differentiate through it; otherwise (it records its calls, like a counting ``f``) it stays
  here and the sandbox calls back for each evaluation, with data in and out.
* Every wait on the sandbox has the grader's own deadline; past it the student's code is
  interrupted (Ctrl-C) and, if it does not stop within a few seconds, the sandbox is killed.
"""
from __future__ import annotations

import importlib
import re
import types
from time import monotonic
from typing import Any

import numpy as np

from helpers.grade import wire
from helpers.grade.sandbox import Sandbox

GRACE_S = 5.0
MODULES = ("numpy", "math", "tensorflow", "keras", "helpers")  # names a hidden test may use as modules


class SandboxStopped(Exception):
    """The sandbox died or was stopped; nothing more can run in it."""


class TimedOut(Exception):
    """The student's code did not answer within the grader's time limit."""


class StudentError(Exception):
    """Base of the exceptions re-created from the sandbox (same type name, same message)."""


def _time_limit() -> type[BaseException]:
    from helpers import checks

    return getattr(checks, "_TimeLimit", TimedOut)


def student_exception(reply: dict) -> Exception:
    name = re.sub(r"\W", "", str(reply.get("type", "Error")))[:60] or "Error"
    message = f"{reply.get('message', '')}{reply.get('where', '')}"
    if name == "NotImplementedError":
        return NotImplementedError(message)
    return type(name, (StudentError,), {})(message)


class Session:
    """Requests to one sandbox, each with a deadline; serves the sandbox's callbacks meanwhile."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.seq = 0
        self.dead = ""
        self.callbacks: dict[int, Any] = {}
        self.deadline: float | None = None  # the current check's budget (None: per request only)

    def remaining(self, default: float) -> float:
        left = default if self.deadline is None else self.deadline - monotonic()
        return max(0.05, min(default, left))

    def stop(self, why: str) -> None:
        if not self.dead:
            self.dead = why
        self.sandbox.close()

    def request(self, header: dict, blobs: list[bytes] | None = None, timeout: float = 60.0) -> tuple[dict, list[bytes]]:
        if self.dead:
            raise SandboxStopped(self.dead)
        self.seq += 1
        seq = header["seq"] = self.seq
        answered = False
        try:
            wire.send(self.sandbox.wfd, header, blobs or [])
            deadline = monotonic() + timeout
            while True:
                try:
                    reply, rblobs = wire.recv(self.sandbox.rfd, deadline)
                except TimeoutError:
                    raise TimedOut(f"no answer within {timeout:g} s") from None
                if reply.get("op") == "callback":
                    self._callback(reply, rblobs)
                    continue
                if reply.get("seq") == seq:
                    answered = True
                    return reply, rblobs
        except (wire.ChannelClosed, OSError, BrokenPipeError):
            answered = True
            self.stop("the sandbox stopped (the submission's process exited, crashed or ran out of memory)")
            raise SandboxStopped(self.dead) from None
        except wire.WireError as error:
            answered = True
            self.stop(f"the sandbox sent an unreadable answer ({error})")
            raise SandboxStopped(self.dead) from None
        finally:
            if not answered:
                self._recover(seq)

    def _recover(self, seq: int) -> None:
        """Interrupt the student's code; kill the sandbox if it does not answer ``seq`` soon."""
        if self.dead:
            return
        self.sandbox.interrupt()
        deadline = monotonic() + GRACE_S
        try:
            while True:
                reply, _ = wire.recv(self.sandbox.rfd, deadline)
                if reply.get("op") == "callback":
                    wire.send(self.sandbox.wfd, {"op": "raise", "type": "KeyboardInterrupt", "message": "time is up"}, [])
                elif reply.get("seq") == seq:
                    return
        except (TimeoutError, wire.ChannelClosed, wire.WireError, OSError):
            self.stop("the sandbox was stopped: the submission's code did not return in time and ignored the interrupt")

    def _callback(self, reply: dict, blobs: list[bytes]) -> None:
        """The student's code called a function the check passed in: run it here, on data."""
        fn = self.callbacks.get(reply.get("cb"))  # type: ignore[arg-type]
        try:
            dec = self.decoder(blobs)
            args = dec(reply.get("args"))
            kwargs = dec(reply.get("kwargs"))
            if fn is None or not isinstance(args, list) or not isinstance(kwargs, dict):
                raise wire.WireError("bad callback")
            value = fn(*args, **{str(k): v for k, v in kwargs.items()})
            enc = self.encoder()
            wire.send(self.sandbox.wfd, {"op": "return", "value": enc(value)}, enc.blobs)
        except Exception as error:  # noqa: BLE001 - the trusted function (or its arguments) failed
            wire.send(self.sandbox.wfd, {"op": "raise", "type": type(error).__name__, "message": str(error)[:500]}, [])

    # ------------------------------------------------------------------ codec, trusted side
    def encoder(self, table: list | None = None) -> wire.Encoder:
        def special(value: Any) -> dict | None:
            if isinstance(value, (RemoteFunction, RemoteObject)):
                return {"$": "h", "id": object.__getattribute__(value, "_handle")}
            if isinstance(value, types.ModuleType):
                return {"$": "m", "name": value.__name__}
            module = type(value).__module__ or ""
            if module.startswith(("tensorflow", "keras")):
                return self._framework(value, enc)
            if callable(value) and not isinstance(value, (type, np.ufunc)):
                return self._function(value, enc)
            return None

        enc = wire.Encoder(special, table)
        return enc

    def _framework(self, value: Any, enc: wire.Encoder) -> dict:
        import keras

        if isinstance(value, (keras.layers.Layer, keras.Model)):
            return {"$": "keras", "config": enc(keras.saving.serialize_keras_object(value)),
                    "weights": [enc.array(np.asarray(w)) for w in value.get_weights()]}
        if hasattr(value, "numpy"):
            return {"$": "tensor", "a": enc.array(np.asarray(value.numpy())), "var": hasattr(value, "assign")}
        return self._function(value, enc)

    def _function(self, fn: Any, enc: wire.Encoder) -> dict:
        if pure(fn):
            try:
                import cloudpickle

                enc.blobs.append(cloudpickle.dumps(fn))
                return {"$": "pk", "b": len(enc.blobs) - 1}
            except Exception:  # noqa: BLE001 - not picklable: call back instead  # nosec
                pass
        cb = len(self.callbacks) + 1
        self.callbacks[cb] = fn
        return {"$": "cb", "id": cb, "name": str(getattr(fn, "__name__", "f"))[:60]}

    def decoder(self, blobs: list[bytes], table: list | None = None) -> wire.Decoder:
        def special(tag: str, node: dict) -> Any:
            if tag == "h":
                handle = node.get("id")
                if not isinstance(handle, int):
                    raise wire.WireError("bad handle")
                kind = RemoteFunction if node.get("kind") == "fn" else RemoteObject
                proxy = kind(self, handle, str(node.get("name", ""))[:100], str(node.get("type", ""))[:100])
                if kind is RemoteFunction:
                    doc = node.get("doc")
                    proxy.__doc__ = doc[:10_000] if isinstance(doc, str) else None
                return proxy
            if tag == "r":
                index = node.get("i")
                if table is None or not isinstance(index, int) or not 0 <= index < len(table):
                    raise wire.WireError("bad reference")
                return table[index]
            if tag == "keras":
                return rebuild_keras(dec(node.get("config"), 1), [dec(w, 1) for w in node.get("weights") or []])
            if tag == "m":
                name = str(node.get("name", ""))
                if name.split(".")[0] in MODULES:
                    try:
                        return importlib.import_module(name)
                    except ImportError:
                        pass
                return Unsendable("module", name)
            raise wire.WireError(f"unknown tag {tag[:20]!r}")

        dec = wire.Decoder(blobs, special)
        return dec

    # ------------------------------------------------------------------ calls
    def call(self, handle: int, args: tuple, kwargs: dict, timeout: float) -> Any:
        table: list[Any] = []
        enc = self.encoder(table)
        header = {"op": "call", "handle": handle, "args": enc(tuple(args)),
                  "kwargs": enc(tuple((str(k), v) for k, v in kwargs.items()))}
        reply, blobs = self.request(header, enc.blobs, timeout=self.remaining(timeout))
        return self._outcome(reply, blobs, table)

    def _outcome(self, reply: dict, blobs: list[bytes], table: list[Any]) -> Any:
        status = reply.get("status")
        if status == "interrupted":
            raise _time_limit()()
        if status == "raised":
            raise student_exception(reply)
        if status != "ok":
            raise SandboxStopped(f"unexpected answer from the sandbox: {str(status)[:50]}")
        dec = self.decoder(blobs, table)
        post = reply.get("post") or []
        if isinstance(post, list) and len(post) == len(table):
            for original, node in zip(table, post):
                if node is not None:
                    write_back(original, dec(node))
        return dec(reply.get("value"))

    def getattr(self, handle: int, name: str, timeout: float) -> Any:
        reply, blobs = self.request({"op": "getattr", "handle": handle, "name": name}, timeout=self.remaining(timeout))
        if reply.get("status") == "raised" and reply.get("type") == "AttributeError":
            raise AttributeError(reply.get("message", name))
        return self._outcome(reply, blobs, [])


def write_back(original: Any, new: Any) -> None:
    """Make the grader's argument hold what the sandbox's copy held after the call."""
    try:
        if isinstance(original, np.ndarray):
            if isinstance(new, np.ndarray) and new.shape == original.shape and original.flags.writeable \
                    and not np.array_equal(original, new, equal_nan=original.dtype.kind in "fc"):
                original[...] = new
        elif isinstance(original, dict) and isinstance(new, dict):
            if new is not original:
                original.clear()
                original.update(new)
        elif isinstance(original, list) and isinstance(new, list):
            if new is not original:
                original[:] = new
        elif isinstance(original, set) and isinstance(new, (list, set)):
            original.clear()
            original.update(new)
        elif isinstance(original, (np.random.Generator, np.random.RandomState)) and \
                isinstance(new, (np.random.Generator, np.random.RandomState)):
            wire.set_rng_state(original, wire.rng_state(new))
        elif hasattr(original, "assign") and isinstance(new, np.ndarray) and tuple(original.shape) == new.shape:
            original.assign(new)
    except (TypeError, ValueError):
        pass  # e.g. a float written into an int array: the check still sees the original


class Unsendable:
    """Stands for a value that cannot cross (a module outside the allow-list, a foreign object)."""

    def __init__(self, kind: str, name: str) -> None:
        self.kind, self.name = kind, name

    def __repr__(self) -> str:
        return f"<{self.kind} {self.name} (not available to the grader)>"


def rebuild_keras(config: Any, weights: list[Any]) -> Any:
    """A Keras layer/model from the sandbox's config + weights: Keras classes only, safe mode."""
    import keras

    def allowed(node: Any) -> bool:
        if isinstance(node, dict):
            module = node.get("module")
            if module is not None and not str(module).startswith("keras"):
                return False
            if node.get("class_name") in ("Lambda", "TFSMLayer", "function") or node.get("registered_name", None) \
                    not in (None, node.get("class_name")) and "class_name" in node:
                return False
            return all(allowed(v) for v in node.values())
        if isinstance(node, (list, tuple)):
            return all(allowed(v) for v in node)
        return True

    if not isinstance(config, dict) or not allowed(config):
        return Unsendable("Keras object", "with custom or Lambda layers")
    try:
        obj = keras.saving.deserialize_keras_object(config, safe_mode=True)
        if weights:
            obj.set_weights([w for w in weights if isinstance(w, np.ndarray)])
        return obj
    except Exception as error:  # noqa: BLE001 - a config Keras cannot rebuild
        return Unsendable("Keras object", f"that could not be rebuilt ({type(error).__name__})")


class RemoteFunction:
    """The student's function, callable from a check; runs in the sandbox."""

    def __init__(self, session: Session, handle: int, name: str, type_name: str) -> None:
        self._session, self._handle, self.__name__, self._type = session, handle, name or "your function", type_name
        self.__qualname__ = self.__name__

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._session.call(self._handle, args, kwargs, timeout=3600)

    def __repr__(self) -> str:
        return f"<your {self._type} {self.__name__}>"


class RemoteObject:
    """Another of the student's objects (e.g. gensim's KeyedVectors): attributes read through."""

    def __init__(self, session: Session, handle: int, name: str, type_name: str) -> None:
        object.__setattr__(self, "_session", session)
        object.__setattr__(self, "_handle", handle)
        object.__setattr__(self, "_type", type_name)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return object.__getattribute__(self, "_session").getattr(object.__getattribute__(self, "_handle"), name, 3600)

    def __repr__(self) -> str:
        return f"<your {object.__getattribute__(self, '_type')} object>"


# --------------------------------------------------------------------------- pure functions
_PURE_TYPES = (type(None), bool, int, float, complex, str, bytes, types.ModuleType, np.ndarray, np.generic,
               types.BuiltinFunctionType, type, np.ufunc)


def pure(fn: Any, seen: set[int] | None = None) -> bool:
    """Does ``fn`` depend only on its arguments and constants (so a copy behaves the same)?"""
    seen = set() if seen is None else seen
    if id(fn) in seen:
        return True
    seen.add(id(fn))
    if not isinstance(fn, types.FunctionType):
        return False

    def value_ok(v: Any) -> bool:
        if isinstance(v, types.FunctionType):
            return pure(v, seen)
        if isinstance(v, (tuple, frozenset)):
            return all(value_ok(x) for x in v)
        return isinstance(v, _PURE_TYPES)

    names: set[str] = set()
    codes = [fn.__code__]
    while codes:
        code = codes.pop()
        names.update(code.co_names)
        codes += [c for c in code.co_consts if isinstance(c, types.CodeType)]
    for cell in fn.__closure__ or ():
        try:
            if not value_ok(cell.cell_contents):
                return False
        except ValueError:
            return False
    for name in names:
        if name in fn.__globals__ and not value_ok(fn.__globals__[name]):
            return False
    return all(value_ok(v) for v in (fn.__defaults__ or ())) and all(
        value_ok(v) for v in (fn.__kwdefaults__ or {}).values())
