"""What a call names, however the file imported TensorFlow.

libcst's qualified names see through every import style the rewriter meets
(`import tensorflow as tf`, `import tensorflow.compat.v1 as tf`,
`from tensorflow.estimator import DNNClassifier as D`); this module turns a
qualified name into what the rewriter does with it.
"""

import dataclasses
import importlib
from typing import Any, Literal

from estimator_migrate import errors
from estimator_migrate.tables import estimators
from estimator_migrate.tables import optimizers

# Modules whose canned estimators are v1 in TF 1.x code. `tf.estimator` meant
# v1 in TF 1.x; under TF 2 the same text means v2, so a `tensorflow.estimator`
# call whose arguments are already v2 (see `is_v2_value`) is left alone.
_ESTIMATOR_MODULES = ('tensorflow.estimator', 'tensorflow.compat.v1.estimator')
_V1_ONLY_PREFIX = 'tensorflow.compat.v1.'
_TRAIN_MODULES = ('tensorflow.train', 'tensorflow.compat.v1.train')
_MODEL_TO_ESTIMATOR = (
    'tensorflow.keras.estimator.model_to_estimator',
    'tensorflow.compat.v1.keras.estimator.model_to_estimator',
)
_V2_PREFIXES = (
    'tensorflow.keras.optimizers.',
    'tensorflow.keras.losses.',
    'tensorflow.compat.v2.',
    'estimator_migrate.',
)

Kind = Literal['canned', 'v1_optimizer', 'decay', 'model_to_estimator']


@dataclasses.dataclass(frozen=True)
class Api:
  """A TensorFlow API a call names.

  `name` is the estimator, optimizer or function name (`DNNClassifier`,
  `AdamOptimizer`, `exponential_decay`); `v1_only` is True when the source
  spells the v1 module explicitly (`tf.compat.v1.estimator.X`).
  """

  kind: Kind
  name: str
  qualified: str
  v1_only: bool


def _split(qualified: str) -> tuple[str, str]:
  module, _, name = qualified.rpartition('.')
  return module, name


def _is_canned(name: str) -> bool:
  try:
    return estimators.lookup(name).name == name
  except errors.TranslationError:
    return False


def classify(qualified: str) -> Api | None:
  """The API `qualified` (e.g. `tensorflow.estimator.DNNClassifier`) names."""
  module, name = _split(qualified)
  v1_only = qualified.startswith(_V1_ONLY_PREFIX)
  if module in _ESTIMATOR_MODULES and _is_canned(name):
    return Api('canned', name, qualified, v1_only)
  if module in _TRAIN_MODULES:
    if name in optimizers.OPTIMIZERS or name in optimizers.UNSUPPORTED:
      return Api('v1_optimizer', name, qualified, v1_only)
    if name.endswith('_decay') or name == 'piecewise_constant':
      return Api('decay', name, qualified, v1_only)
  if qualified in _MODEL_TO_ESTIMATOR:
    return Api('model_to_estimator', name, qualified, v1_only)
  return None


def is_v2(qualified: str) -> bool:
  """Whether `qualified` names a v2-only API (Keras optimizers, the toolkit)."""
  return qualified.startswith(_V2_PREFIXES)


def load(qualified: str) -> Any:
  """The object a dotted name names (`tensorflow.compat.v1.losses.Reduction`).

  Raises:
    LookupError: Nothing by that name.
  """
  parts = qualified.split('.')
  for i in range(len(parts), 0, -1):
    try:
      value = importlib.import_module('.'.join(parts[:i]))
    except ImportError:
      continue
    try:
      for part in parts[i:]:
        value = getattr(value, part)
    except AttributeError as e:
      raise LookupError(qualified) from e
    return value
  raise LookupError(qualified)
