"""helpers.bench at tiny sizes: the three LSTM implementations agree and the table prints."""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402

from helpers import bench  # noqa: E402
from helpers.gradcheck import numerical_gradient, relative_error  # noqa: E402


def test_bench_main_tiny(capsys):
    code = bench.main(["--batch", "2", "--steps", "3", "--units", "4", "--inputs", "3",
                       "--repeats", "1", "--warmup", "1"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "agree (< 0.001): yes" in out
    for row in ("NumPy", "kernel", "Keras", "median ms", "NumPy / kernel", "kernel / Keras",
                "Device:"):
        assert row in out, row


def test_numpy_reference_bptt_is_right():
    """The bench's own NumPy BPTT against finite differences (float64), so 'agree' means
    something independent of TensorFlow."""
    d = bench.make_data(2, 4, 3, 3, seed=1)
    d = {k: v.astype(np.float64) for k, v in d.items()}
    ours = bench.numpy_lstm_grads(*(d[k] for k in (*bench.KEYS, "dhs")))

    def loss():
        x, h, c, w, u, b = (d[k] for k in bench.KEYS)
        n = h.shape[1]
        total = 0.0
        for t in range(x.shape[1]):
            z = x[:, t] @ w + h @ u + b
            s = 1 / (1 + np.exp(-z))
            c = s[:, n:2 * n] * c + s[:, :n] * np.tanh(z[:, 2 * n:3 * n])
            h = s[:, 3 * n:] * np.tanh(c)
            total += np.sum(h * d["dhs"][:, t])
        return total

    for k in bench.KEYS:
        assert relative_error(ours[k], numerical_gradient(loss, d[k])) < 1e-6, k


def test_bench_conv_subcommand_tiny(capsys):
    code = bench.main(["conv", "--batch", "2", "--size", "6", "--c-in", "2", "--c-out", "3",
                       "--kernel", "3", "--repeats", "1", "--warmup", "1"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "Conv2D forward + backward" in out and "agree (< 0.001): yes" in out
    for row in ("NumPy", "kernel", "Keras", "GFLOP/s", "NumPy / kernel", "kernel / Keras", "Device:"):
        assert row in out, row


def test_numpy_reference_conv_is_right():
    """The bench's im2col NumPy Conv2D and its gradients against a loop and centered differences."""
    d = {k: v.astype(np.float64) for k, v in bench.make_conv_data(2, 5, 2, 3, 3, seed=1).items()}
    ours = bench.numpy_conv2d_grads(d["x"], d["kernel"], d["bias"], d["dy"])

    def forward():
        x, w, b = d["x"], d["kernel"], d["bias"]
        y = np.zeros(d["dy"].shape)
        for i in range(y.shape[1]):
            for j in range(y.shape[2]):
                y[:, i, j] = np.einsum("bpqc,pqcf->bf", x[:, i:i + 3, j:j + 3], w) + b
        return y

    assert np.allclose(ours["y"], forward())
    loss = lambda: float(np.sum(forward() * d["dy"]))
    for k in ("x", "kernel", "bias"):
        assert relative_error(ours[k], numerical_gradient(loss, d[k])) < 1e-6, k


def test_bench_conv_runs_as_a_module():
    """`python -m helpers.bench conv` dispatches (the subcommand is defined before it runs)."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "helpers.bench", "conv", "--batch", "1", "--size", "5",
                           "--c-in", "1", "--c-out", "2", "--repeats", "1", "--warmup", "1"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Conv2D forward + backward" in proc.stdout


def test_bench_attention_tiny(capsys):
    code = bench.main(["attention", "--batch", "2", "--seq", "5", "--model", "6", "--heads", "2",
                       "--repeats", "1", "--warmup", "1"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "agree (< 0.001): yes" in out
    for row in ("NumPy", "kernel", "Keras", "GFLOP/s", "NumPy / kernel", "kernel / Keras", "causal mask"):
        assert row in out, row


def test_numpy_attention_bench_grads_are_right():
    """The attention bench's NumPy backward against finite differences (float64)."""
    from helpers import bench_attention as ba

    d = ba.make_data(2, 4, 4, 2, seed=1)
    x, w, mask, dout = d["x"].astype(np.float64), [a.astype(np.float64) for a in d["w"]], d["mask"], \
        d["dout"].astype(np.float64)
    ours = ba.numpy_mha_grads(x, w, mask, dout)
    params = {"x": x, **dict(zip(ba.KEYS[1:], w))}

    def loss():
        wq, bq, wk, bk, wv, bv, wo, bo = w
        q = np.einsum("btd,dhk->bhtk", x, wq) + bq[:, None]
        k = np.einsum("btd,dhk->bhtk", x, wk) + bk[:, None]
        v = np.einsum("btd,dhk->bhtk", x, wv) + bv[:, None]
        s = np.where(mask, q @ k.transpose(0, 1, 3, 2) / np.sqrt(q.shape[-1]), -1e9)
        p = np.exp(s - s.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        return float(np.sum((np.einsum("bhtk,hko->bto", p @ v, wo) + bo) * dout))

    for k in ba.KEYS:
        if k == "bk":  # zero in exact arithmetic: the softmax ignores q·bk, the same for every key
            assert np.max(np.abs(ours[k])) < 1e-10 and np.max(np.abs(numerical_gradient(loss, params[k]))) < 1e-6
            continue
        assert relative_error(ours[k], numerical_gradient(loss, params[k])) < 1e-6, k
