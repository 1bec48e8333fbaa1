"""TensorFlow kernels used as oracles by the checks and for speed in the notebooks.

Every function is compiled with ``tf.function`` and runs on the GPU when one is present.
"""
from helpers import tensorflow as _import_tensorflow_quietly

_import_tensorflow_quietly()

from helpers.kernels.optimizers import *  # noqa: E402,F401,F403
from helpers.kernels.rnn import *  # noqa: E402,F401,F403
from helpers.kernels.conv import *  # noqa: E402,F401,F403
