"""Deep Learning, Derived: the small support package behind the notebooks.

Import cost matters (every notebook and every test imports this), so nothing heavy is
imported here: TensorFlow, Matplotlib and the checks load on first use.

    import helpers
    helpers.setup()                 # seeds, quiet logs, plot style, one device line
    from helpers import check       # check.ex_0_1(my_softmax)
"""
from __future__ import annotations

import contextlib
import importlib
import os
import random
import sys
from typing import Any, Iterator

__all__ = ["setup", "check", "checks", "data", "device", "gradcheck", "plots", "widgets", "kernels"]

DEFAULT_SEED = 42


def quiet_tensorflow_env() -> None:
    """Silence TensorFlow's C++ logs and the oneDNN banner; must run before TF is imported."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")


@contextlib.contextmanager
def _stderr_fd_silenced() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null for a moment (C++ log lines bypass Python)."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def tensorflow():
    """Import TensorFlow quietly and return the module.

    TF 2.21 writes absl start-up lines ("Could not find cuda drivers ...") straight to file
    descriptor 2 whatever TF_CPP_MIN_LOG_LEVEL says; Jupyter would store them as cell output.
    They are dropped while TensorFlow is imported and probes for GPUs, and only then.
    """
    quiet_tensorflow_env()
    if "tensorflow" not in sys.modules:
        with _stderr_fd_silenced():
            import tensorflow as tf

            tf.config.list_physical_devices("GPU")
        tf.get_logger().setLevel("ERROR")
    return sys.modules["tensorflow"]


def seed_everything(seed: int = DEFAULT_SEED) -> None:
    """Seed Python, NumPy, TensorFlow and Keras (bit-identical CPU results across runs)."""
    tensorflow()
    random.seed(seed)
    import numpy as np

    np.random.seed(seed)
    import keras

    keras.utils.set_random_seed(seed)


def setup(seed: int = DEFAULT_SEED, *, plots: bool = True, report: bool = True) -> None:
    """Prepare a notebook: quiet TF, seed everything, set the plot style, print the device line."""
    tensorflow()
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
