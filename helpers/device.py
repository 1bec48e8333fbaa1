"""Which device TensorFlow computes on: GPU detection, memory growth, CPU fallback,
opt-in mixed precision and a tf.distribute strategy."""
from __future__ import annotations

import platform

from helpers import tensorflow

_configured = False


def gpus() -> list:
    """Physical GPUs TensorFlow can see (empty list on a CPU-only machine)."""
    return tensorflow().config.list_physical_devices("GPU")


def configure(mixed_precision: bool = False) -> None:
    """Enable memory growth on every GPU (so notebooks can share one) and, if asked,
    the ``mixed_float16`` Keras policy. Safe to call more than once."""
    global _configured
    tf = tensorflow()
    import keras

    if not _configured:
        for gpu in gpus():
            try:
                tf.config.experimental.set_memory_growth(gpu, True)
            except RuntimeError:  # already initialised: growth can no longer change
                pass
        _configured = True
    if mixed_precision:
        if not gpus():
            print("Mixed precision asked for, but no GPU found: staying with float32.")
            return
        keras.mixed_precision.set_global_policy("mixed_float16")
    else:
        keras.mixed_precision.set_global_policy("float32")


def describe() -> str:
    """One line naming the device and the versions, e.g. for the top of every notebook."""
    tf = tensorflow()
    import keras
    import numpy as np

    found = gpus()
    versions = f"TensorFlow {tf.__version__}, Keras {keras.__version__}, NumPy {np.__version__}"
    if found:
        names = []
        for gpu in found:
            details = tf.config.experimental.get_device_details(gpu)
            names.append(details.get("device_name", gpu.name))
        return f"Device: {len(found)} GPU(s) ({', '.join(names)}); {versions}"
    cpu = platform.processor() or platform.machine()
    return f"Device: CPU only ({cpu}), no GPU found, running on CPU; {versions}"


def strategy():
    """A ``tf.distribute`` strategy: mirrored over several GPUs, else the default one."""
    tf = tensorflow()
    found = gpus()
    if len(found) > 1:
        return tf.distribute.MirroredStrategy()
    if len(found) == 1:
        return tf.distribute.OneDeviceStrategy("/gpu:0")
    return tf.distribute.get_strategy()
