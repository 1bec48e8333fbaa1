"""The sandbox side: runs the notebook's cells and serves the trusted grader's requests.

Started by :mod:`helpers.grade.sandbox` inside the sandbox as ``python -m helpers.grade.agent
READ_FD WRITE_FD``. Everything here runs in the student's process, so nothing here is trusted:
it only executes cells and calls the student's objects when asked, and answers with data
(:mod:`helpers.grade.wire`). The grader believes none of it beyond "this is what the function
returned", and checks that on its own side.
"""
from __future__ import annotations

import os
import signal
import sys
import traceback
from typing import Any

import numpy as np

from helpers.grade import wire

_INT = {signal.SIGINT}


class Agent:
    def __init__(self, rfd: int, wfd: int) -> None:
        self.rfd, self.wfd = rfd, wfd
        self.handles: dict[int, Any] = {}
        from IPython.core.interactiveshell import InteractiveShell

        self.shell = InteractiveShell.instance()
        self.ns = self.shell.user_ns

    # ------------------------------------------------------------------ plumbing
    def send(self, header: dict, blobs: list[bytes] | None = None) -> None:
        wire.send(self.wfd, header, blobs or [])

    def recv(self) -> tuple[dict, list[bytes]]:
        return wire.recv(self.rfd)

    def student(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run student code with Ctrl-C (the grader's time limit) deliverable."""
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _INT)
        try:
            return fn(*args, **kwargs)
        finally:
            signal.pthread_sigmask(signal.SIG_BLOCK, _INT)

    # ------------------------------------------------------------------ codec, this side
    def handle(self, value: Any) -> dict:
        self.handles[len(self.handles) + 1] = value
        kind = "fn" if callable(value) else "obj"
        return {"$": "h", "id": len(self.handles), "kind": kind,
                "name": str(getattr(value, "__name__", "") or type(value).__name__)[:100],
                "type": type(value).__name__[:100], "doc": _doc(value)}

    def encoder(self, table: list[Any] | None = None) -> wire.Encoder:
        ids = {id(v): k for k, v in enumerate(table or [])}

        def special(value: Any) -> dict | None:
            if id(value) in ids and not isinstance(value, (int, float, str, bool, type(None))):
                return {"$": "r", "i": ids[id(value)]}
            module = type(value).__module__ or ""
            if isinstance(value, type(np)):
                return {"$": "m", "name": value.__name__}
            if module.startswith(("tensorflow", "keras")):
                return self.framework(value, enc)
            if isinstance(value, (np.ndarray, np.generic, np.random.Generator, np.random.RandomState,
                                  tuple, list, dict, set, frozenset, str, bytes, int, float, complex, bool,
                                  type(None))):
                return None
            return self.handle(value)

        enc = wire.Encoder(special)
        return enc

    def framework(self, value: Any, enc: wire.Encoder) -> dict:
        import keras

        if isinstance(value, (keras.layers.Layer, keras.Model)):
            config = keras.saving.serialize_keras_object(value)
            return {"$": "keras", "config": enc(config), "weights": [enc.array(np.asarray(w)) for w in value.get_weights()]}
        if hasattr(value, "numpy") and callable(value.numpy):
            return enc.array(np.asarray(value.numpy()))
        return self.handle(value)

    def decoder(self, blobs: list[bytes], table: list[Any]) -> wire.Decoder:
        def special(tag: str, node: dict) -> Any:
            if tag == "cb":
                return self.callback(int(node["id"]), str(node.get("name", "f")))
            if tag == "pk":
                import pickle

                return pickle.loads(dec.blob(node))  # trusted bytes: sent only by the grader
            if tag == "h":
                return self.handles[int(node["id"])]
            if tag == "tensor":
                import tensorflow as tf

                array = dec(node["a"])
                return tf.Variable(array) if node.get("var") else tf.constant(array)
            if tag == "keras":
                return rebuild_keras(dec(node["config"]), [dec(w) for w in node["weights"]])
            if tag == "m":
                import importlib

                return importlib.import_module(str(node["name"]))
            raise wire.WireError(f"unknown tag {tag}")

        dec = wire.Decoder(blobs, special, table)
        return dec

    def callback(self, cb_id: int, name: str) -> Any:
        agent = self

        def trusted_function(*args: Any, **kwargs: Any) -> Any:
            enc = agent.encoder()
            header = {"op": "callback", "cb": cb_id, "args": enc(list(args)), "kwargs": enc(kwargs)}
            agent.send(header, enc.blobs)
            reply, blobs = agent.recv()
            if reply.get("op") == "raise":
                raise RuntimeError(f"{reply.get('type', 'Error')}: {reply.get('message', '')}")
            return agent.decoder(blobs, [])(reply.get("value"))

        trusted_function.__name__ = name
        return trusted_function

    # ------------------------------------------------------------------ requests
    def serve(self) -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, _INT)
        while True:
            try:
                request, blobs = self.recv()
            except wire.ChannelClosed:
                return
            seq = request.get("seq")
            try:
                reply, out = self.dispatch(request, blobs)
            except KeyboardInterrupt:
                reply, out = {"status": "interrupted"}, []
            except BaseException as error:  # noqa: BLE001 - reported to the grader
                reply, out = {"status": "raised", **describe(error)}, []
            reply["seq"] = seq
            try:
                self.send(reply, out)
            except wire.WireError as error:
                self.send({"seq": seq, "status": "raised", "type": "WireError", "message": str(error)})

    def dispatch(self, request: dict, blobs: list[bytes]) -> tuple[dict, list[bytes]]:
        op = request.get("op")
        if op == "ping":
            return {"status": "ok"}, []
        if op == "usage":  # CPU seconds used in the sandbox (self-reported: for throughput figures only)
            import resource

            used = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
            return {"status": "ok", "cpu_s": sum(u.ru_utime + u.ru_stime for u in used)}, []
        if op == "cell":
            result = self.student(self.shell.run_cell, str(request.get("source", "")), store_history=False)
            error = result.error_in_exec or result.error_before_exec
            if error is not None:
                return {"status": "error", **describe(error)}, []
            return {"status": "ok"}, []
        if op == "resolve":
            values = [self.student(eval, str(e), self.ns) for e in request.get("exprs", [])]
            kwargs = {str(k): self.student(eval, str(e), self.ns) for k, e in request.get("kwexprs", {}).items()}
            enc = self.encoder()
            return {"status": "ok", "values": enc(values), "kwargs": enc(kwargs)}, enc.blobs
        if op == "names":
            enc = self.encoder()
            found = {str(n): self.ns[n] for n in request.get("names", []) if n in self.ns}
            return {"status": "ok", "values": enc(found)}, enc.blobs
        if op == "call":
            table: list[Any] = []
            dec = self.decoder(blobs, table)
            target = self.handles[int(request["handle"])]
            args, kwargs = dec(request["args"]), dict(dec(request["kwargs"]))
            result = self.student(target, *args, **kwargs)
            enc = self.encoder(table)
            post = [post_node(enc, v) for v in table]
            return {"status": "ok", "value": enc(result), "post": post}, enc.blobs
        if op == "getattr":
            target = self.handles[int(request["handle"])]
            enc = self.encoder()
            return {"status": "ok", "value": enc(self.student(getattr, target, str(request["name"])))}, enc.blobs
        raise ValueError(f"unknown request {op!r}")


def post_node(enc: wire.Encoder, value: Any) -> Any:
    """What a mutable argument holds after the call, as data (its items may refer to other arguments)."""
    if isinstance(value, np.ndarray):
        return enc.array(value)
    if isinstance(value, np.random.Generator):
        return {"$": "rng", "state": enc(value.bit_generator.state)}
    if isinstance(value, np.random.RandomState):
        return {"$": "rs", "state": enc(value.get_state(legacy=False))}
    if isinstance(value, dict):
        return {"$": "d", "k": [enc(k) for k in value], "v": [enc(v) for v in value.values()]}
    if isinstance(value, (list, set)):
        return {"$": "l", "v": [enc(v) for v in value]}
    if hasattr(value, "numpy"):
        return enc.array(np.asarray(value.numpy()))
    return None


def rebuild_keras(config: Any, weights: list[np.ndarray]) -> Any:
    import keras

    obj = keras.saving.deserialize_keras_object(config, safe_mode=True)
    if weights:
        obj.set_weights(weights)
    return obj


def _doc(value: Any) -> str | None:
    try:
        doc = getattr(value, "__doc__", None)
    except BaseException:  # noqa: BLE001 - a hostile property
        return None
    return doc[:10_000] if isinstance(doc, str) else None


def describe(error: BaseException) -> dict:
    """Type, message and the innermost line of the student's own code."""
    line = ""
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        path = frame.filename.replace("\\", "/")
        if "/helpers/" in path or "site-packages" in path or "/lib/python" in path:
            continue
        line = f" (line {frame.lineno} of your code: `{(frame.line or '').strip()[:200]}`)"
        break
    try:
        message = str(error)
    except BaseException:  # noqa: BLE001 - a hostile __str__
        message = "<unprintable>"
    return {"type": type(error).__name__[:100], "message": message[:2000], "where": line}


def main() -> None:
    rfd, wfd = int(sys.argv[1]), int(sys.argv[2])
    os.environ.setdefault("MPLBACKEND", "Agg")
    Agent(rfd, wfd).serve()


if __name__ == "__main__":
    main()
