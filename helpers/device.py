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


# --------------------------------------------------------------------------- data parallelism (chapter 04)
def split_cpu(replicas: int = 2) -> list[str]:
    """Split the CPU into ``replicas`` logical devices, so ``tf.distribute`` strategies can be
    tried (and tested) on a machine without GPUs; returns the logical CPU device names.

    TensorFlow fixes its logical devices when its runtime starts (the first op, tensor or
    strategy). ``helpers.setup()`` does not start it, so call this right after setup and before
    anything else touches TensorFlow. Calling it again with the same number is harmless; too late,
    with another number, it raises a RuntimeError saying to restart the kernel.
    """
    tf = tensorflow()
    if replicas < 1:
        raise ValueError(f"replicas must be at least 1, got {replicas}")
    cpu = tf.config.list_physical_devices("CPU")[0]
    current = tf.config.get_logical_device_configuration(cpu)
    if current is None or len(current) != replicas:
        try:
            tf.config.set_logical_device_configuration(
                cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(replicas)])
        except RuntimeError as error:
            have = len(tf.config.list_logical_devices("CPU"))
            raise RuntimeError(
                f"TensorFlow has already started with {have} logical CPU device(s); "
                f"split_cpu({replicas}) must run right after helpers.setup(), before the first "
                "TensorFlow op — restart the kernel and call it there.") from error
    return [device.name for device in tf.config.list_logical_devices("CPU")]


def mirrored_strategy(cpu_replicas: int = 2):
    """A ``tf.distribute.MirroredStrategy``: over every GPU when there are at least two, else over
    ``cpu_replicas`` logical CPU devices (made by :func:`split_cpu`, so call this before TensorFlow
    starts). The same training code then runs on one machine with 1 CPU, 2 CPUs or 8 GPUs."""
    tf = tensorflow()
    found = gpus()
    if len(found) > 1:
        return tf.distribute.MirroredStrategy()
    names = split_cpu(cpu_replicas)
    return tf.distribute.MirroredStrategy(devices=names[:cpu_replicas])


def tf_config(workers: list[str], index: int) -> str:
    """The ``TF_CONFIG`` JSON that worker ``index`` of a ``MultiWorkerMirroredStrategy`` cluster
    needs (set it in that worker's environment before TensorFlow starts), e.g.
    ``tf_config(["host1:12345", "host2:12345"], 0)``. Worker 0 is the chief."""
    import json

    if not 0 <= index < len(workers):
        raise ValueError(f"index {index} is not one of the {len(workers)} workers")
    return json.dumps({"cluster": {"worker": list(workers)}, "task": {"type": "worker", "index": index}})
