"""Runs the whole TF 1.x projects of `tests/project_corpus/` as users do.

A project is a directory holding a `trainer` package (`trainer.task.main`
parses its flags, trains with `train_and_evaluate` and returns the
estimator). It runs in this process, from its own directory (its paths are
relative), as TF 1.x ran it (`as_tf1`: `tensorflow` bound to its compat.v1
view, the mechanism of tests/rewrite_execution_test.py) or as it reads.
"""

from collections.abc import Iterator, Sequence
import contextlib
import csv
import functools
import importlib
import os
import shutil
import sys
import types

import numpy as np
import tensorflow as tf
from tensorflow.tools.compatibility import ast_edits
from tensorflow.tools.compatibility import tf_upgrade_v2
from tensorflow_estimator.python.estimator.canned import head as v1_heads

CORPUS = os.path.join(os.path.dirname(__file__), 'project_corpus')
PACKAGE = 'trainer'
# The census-like schema every project reads (data/train.csv, data/eval.csv).
COLUMNS = ('age', 'hours_per_week', 'education', 'occupation', 'label')
EDUCATION = ('Bachelors', 'HS-grad', 'Masters', 'Doctorate')
OCCUPATION = ('Tech-support', 'Sales', 'Exec-managerial', 'Craft-repair')
# TF 1.x's `tensorflow` was what TF 2 calls compat.v1.
_AS_TF1 = (
    ('import tensorflow as tf\n', 'import tensorflow.compat.v1 as tf\n'),
    (
        'from tensorflow.estimator import',
        'from tensorflow.compat.v1.estimator import',
    ),
)


def sources(root: str) -> dict[str, str]:
  """Every .py file under `root`, by relative path."""
  found = {}
  for directory, _, names in os.walk(root):
    for name in names:
      if name.endswith('.py'):
        path = os.path.join(directory, name)
        with open(path) as f:
          found[os.path.relpath(path, root)] = f.read()
  return found


def copy(name: str, target: str) -> str:
  shutil.copytree(
      os.path.join(CORPUS, name),
      target,
      ignore=shutil.ignore_patterns('__pycache__'),
  )
  return target


# TF 1.15's tf.contrib.estimator heads: contrib's factories called these v1
# heads of tensorflow_estimator with loss_reduction defaulting to
# SUM_OVER_BATCH_SIZE (TF 1.9 to 1.15).
_SUM_OVER_BATCH_SIZE = tf.compat.v1.losses.Reduction.SUM_OVER_BATCH_SIZE
contrib_estimator = types.SimpleNamespace(
    regression_head=functools.partial(
        v1_heads._regression_head, loss_reduction=_SUM_OVER_BATCH_SIZE
    ),
    binary_classification_head=functools.partial(
        v1_heads._binary_logistic_head_with_sigmoid_cross_entropy_loss,
        loss_reduction=_SUM_OVER_BATCH_SIZE,
    ),
    multi_class_head=functools.partial(
        v1_heads._multi_class_head_with_softmax_cross_entropy_loss,
        loss_reduction=_SUM_OVER_BATCH_SIZE,
    ),
)
_CONTRIB = 'tf.contrib.estimator.'
_CONTRIB_VIEW = 'from tests.project_harness import contrib_estimator\n'


def as_tf1(root: str) -> None:
  """Binds the project's `tensorflow` to TF 1.x's API (compat.v1).

  `tf.contrib.estimator`'s heads, gone from TF 2, come from
  `contrib_estimator`.
  """
  for relative, text in sources(root).items():
    for tf1, compat in _AS_TF1:
      text = text.replace(tf1, compat)
    if _CONTRIB in text:
      text = text.replace(_CONTRIB, 'contrib_estimator.')
      text = text.replace(_AS_TF1[0][1], _AS_TF1[0][1] + _CONTRIB_VIEW, 1)
    with open(os.path.join(root, relative), 'w') as f:
      f.write(text)


def tf_upgrade_v2_tree(root: str) -> None:
  """Runs TensorFlow's `tf_upgrade_v2` (its engine, all rules) in place."""
  upgrader = ast_edits.ASTCodeUpgrader(tf_upgrade_v2.TFAPIChangeSpec())
  with contextlib.redirect_stdout(open(os.devnull, 'w')):
    upgrader.process_tree_inplace(root)


def rows(kind: str, n_classes: int, count: int, seed: int) -> list[list]:
  """Synthetic census rows; the label depends on the features."""
  rng = np.random.default_rng(seed)
  out = []
  for _ in range(count):
    age = round(float(rng.uniform(18, 70)), 1)
    hours = round(float(rng.uniform(10, 60)), 1)
    education = int(rng.integers(len(EDUCATION)))
    occupation = int(rng.integers(len(OCCUPATION)))
    score = (age - 40) / 20 + (hours - 35) / 25 + education - occupation / 2
    if kind == 'Regressor':
      label = round(score + float(rng.normal(0, 0.1)), 3)
    else:
      label = int(score > 0) if n_classes == 2 else (education + occupation) % 3
    out.append(
        [age, hours, EDUCATION[education], OCCUPATION[occupation], label]
    )
  return out


def write_data(root: str, kind: str, n_classes: int) -> dict[str, np.ndarray]:
  """Writes data/train.csv and data/eval.csv; returns eval's features."""
  os.makedirs(os.path.join(root, 'data'), exist_ok=True)
  features = None
  for name, count, seed in (('train', 24, 0), ('eval', 8, 1)):
    data = rows(kind, n_classes, count, seed)
    with open(os.path.join(root, 'data', f'{name}.csv'), 'w', newline='') as f:
      writer = csv.writer(f)
      writer.writerow(COLUMNS)
      writer.writerows(data)
    # One column per feature, as the exported models take them.
    features = {
        'age': np.array([[r[0]] for r in data], np.float32),
        'hours_per_week': np.array([[r[1]] for r in data], np.float32),
        'education': np.array([[r[2]] for r in data]),
        'occupation': np.array([[r[3]] for r in data]),
    }
  return features


def _forget_package() -> None:
  for module in list(sys.modules):
    if module == PACKAGE or module.startswith(f'{PACKAGE}.'):
      del sys.modules[module]


@contextlib.contextmanager
def inside(root: str) -> Iterator[None]:
  """The project's directory as cwd and its package importable, fresh."""
  cwd = os.getcwd()
  _forget_package()
  sys.path.insert(0, root)
  os.chdir(root)
  try:
    yield
  finally:
    os.chdir(cwd)
    sys.path.remove(root)
    _forget_package()


def main(argv: Sequence[str]):
  """`python -m trainer.task ARGV`, in this process (inside `inside`)."""
  task = importlib.import_module(f'{PACKAGE}.task')
  return task.main(list(argv))


def module(name: str):
  return importlib.import_module(f'{PACKAGE}.{name}')
