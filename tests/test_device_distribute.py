"""helpers.device's data-parallel helpers. Logical CPU devices can only be made before TensorFlow
starts its runtime, so each case runs in a fresh interpreter."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from conftest import ROOT


def _run(code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_split_cpu_after_setup_gives_a_two_replica_strategy_whose_step_matches_one_device():
    result = _run("""
        import helpers
        helpers.setup(report=False)
        from helpers import device
        names = device.split_cpu(2)
        assert device.split_cpu(2) == names            # a second call is harmless
        strategy = device.mirrored_strategy(2)
        import numpy as np, tensorflow as tf
        rng = np.random.default_rng(0)
        X, y = rng.standard_normal((8, 3)), rng.standard_normal(8)
        w0 = rng.standard_normal(3)
        with strategy.scope():
            w = tf.Variable(w0)
        def replica_grad(xb, yb):
            with tf.GradientTape() as tape:
                per_example = tf.square(tf.linalg.matvec(xb, w) - yb)
                loss = tf.nn.compute_average_loss(per_example, global_batch_size=8)
            return tape.gradient(loss, w)
        dataset = tf.data.Dataset.from_tensor_slices((X, y)).batch(8)
        xb, yb = next(iter(strategy.experimental_distribute_dataset(dataset)))
        per_replica = strategy.run(replica_grad, args=(xb, yb))
        g = strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None).numpy()
        expected = 2 * X.T @ (X @ w0 - y) / 8
        assert np.allclose(g, expected, atol=1e-12), (g, expected)
        print(len(names), strategy.num_replicas_in_sync)
    """)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["2", "2"]


def test_split_cpu_too_late_says_to_restart():
    result = _run("""
        import helpers
        helpers.setup(report=False)
        import tensorflow as tf
        tf.constant(1.0) + 1.0                         # the runtime starts here
        from helpers import device
        try:
            device.split_cpu(2)
        except RuntimeError as error:
            print("RuntimeError:", error)
    """)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "restart the kernel" in result.stdout and "1 logical CPU" in result.stdout


def test_tf_config_names_the_cluster_and_this_worker():
    from helpers import device

    config = json.loads(device.tf_config(["a:1", "b:2"], 1))
    assert config == {"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 1}}
    with pytest.raises(ValueError):
        device.tf_config(["a:1"], 1)
