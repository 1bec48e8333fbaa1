"""Deep Learning, Derived: the small support package behind the notebooks.

Import cost matters (every notebook and every test imports this), so nothing heavy is
imported here: TensorFlow, Matplotlib and the checks load on first use.

    import helpers
    helpers.setup()                 # seeds, quiet logs, plot style, one device line
    from helpers import check       # check.ex_0_1(my_softmax)
"""
from __future__ import annotations

import importlib
import os
import random
from typing import Any

__all__ = ["setup", "check", "data", "device", "gradcheck", "plots", "widgets", "kernels"]

DEFAULT_SEED = 42


def quiet_tensorflow_env() -> None:
    """Silence TensorFlow's C++ logs and the oneDNN banner; must run before TF is imported."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def seed_everything(seed: int = DEFAULT_SEED) -> None:
    """Seed Python, NumPy, TensorFlow and Keras (bit-identical CPU results across runs)."""
    quiet_tensorflow_env()
    random.seed(seed)
    import numpy as np

    np.random.seed(seed)
    import keras

    keras.utils.set_random_seed(seed)


def setup(seed: int = DEFAULT_SEED, *, plots: bool = True, report: bool = True) -> None:
    """Prepare a notebook: quiet TF, seed everything, set the plot style, print the device line."""
    quiet_tensorflow_env()
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    from helpers import device as _device

    _device.configure()
    seed_everything(seed)
    if plots:
        from helpers import plots as _plots

        _plots.use_style()
    if report:
        print(_device.describe())


def __getattr__(name: str) -> Any:
    if name in __all__:
        return importlib.import_module(f"helpers.{name}")
    raise AttributeError(f"module 'helpers' has no attribute {name!r}")
