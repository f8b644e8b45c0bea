"""tensorflow_estimator's checkpoint-converter test matrix, checked by value.

Upstream's `tools/checkpoint_converter_test.py` trains DNN, Linear and
DNNLinearCombined `*Estimator`s with a 2-dimensional v1 regression head 10
steps on `y = x`, converts, trains the v2 estimator 10 more and asserts only
that the global step reached 20; its v2 side uses a v2 head with the default
SUM_OVER_BATCH_SIZE, which trains differently from v1. Here each case is
built from the v1 arguments alone (v1 head included), translated by
`canned.translate_canned_args`, converted by `convert_optimizer_checkpoint`,
and continued beside v1 on the same batches: every tensor of the two final
checkpoints (weights, slots, hyperparameters, counters) is compared.
"""

from unittest import mock

from absl import logging
from absl.testing import absltest
from absl.testing import parameterized
import numpy as np
import tensorflow as tf
from tensorflow_estimator.python.estimator.canned import head as head_lib

from estimator_migrate.tables import estimators
from estimator_migrate.tables import heads
from estimator_migrate.tables import optimizers
from tests import checkpoint_harness
from tests import conversion_paths
from tests import tolerances

_LABEL_DIMENSION = 2
_BATCH = 10
_STEPS = 10

# Max |a - b| / max(|b|, 1e-3) per string optimizer: checkpoint
# continuation's measured bound of the optimizer it names (tests/tolerances).
_RTOL = {
    name: tolerances.OPTIMIZERS[name.lower()].continued
    for name in optimizers.CANNED_STRINGS
}

# Upstream's cases: one optimizer for DNN and Linear, (dnn, linear) pairs.
_SINGLE = ('Adagrad', 'RMSProp', 'Ftrl', 'Adam', 'SGD')
_PAIRS = (
    ('Adagrad', 'RMSProp'),
    ('RMSProp', 'Ftrl'),
    ('Ftrl', 'Adam'),
    ('Adam', 'SGD'),
    ('SGD', 'Adagrad'),
)
_MATRIX = (
    tuple((f'dnn_{o}', 'DNN', (o,)) for o in _SINGLE)
    + tuple((f'linear_{o}', 'Linear', (o,)) for o in _SINGLE)
    + tuple(
        (f'combined_{d}_{lin}', 'DNNLinearCombined', (d, lin))
        for d, lin in _PAIRS
    )
)


def _input_fn():
  # Upstream's data: learn y = x, every batch the 10 examples.
  data = np.linspace(0.0, 2.0, _BATCH * _LABEL_DIMENSION, dtype=np.float32)
  data = data.reshape(_BATCH, _LABEL_DIMENSION)
  return tf.data.Dataset.from_tensors(({'x': data}, data)).repeat()


def _v1_kwargs(family: str, names: tuple[str, ...]) -> dict:
  columns = [tf.feature_column.numeric_column('x', shape=(_LABEL_DIMENSION,))]
  row = estimators.lookup(family + 'Estimator').family
  kwargs = row.minimal_kwargs(
      {scope: columns for scope in row.scopes}, hidden_units=(2, 2)
  )
  kwargs.update(zip((a.name for a in row.optimizer_args), names, strict=True))
  kwargs['head'] = head_lib._regression_head(label_dimension=_LABEL_DIMENSION)
  return kwargs


# Both conversion paths across the matrix without doubling its time (each is
# run on every optimizer of checkpoint_continuation_test): the cases take
# the two paths in turn, each named for its path.
_PATHED = tuple(
    (
        f'{case[0]}_{conversion_paths.PATHS[i % 2][0]}',
        *case[1:],
        conversion_paths.PATHS[i % 2][1],
    )
    for i, case in enumerate(_MATRIX)
)


def _continue_both(
    root: str, family: str, names: tuple[str, ...], path: str = 'auto'
):
  return checkpoint_harness.continue_both(
      root,
      family,
      _v1_kwargs(family, names),
      k=_STEPS,
      m=_STEPS,
      kind='Estimator',
      train_input_fn=_input_fn,
      path=path,
  )


class ConverterMatrixTest(parameterized.TestCase):

  def test_matrix_covers_every_string_optimizer(self):
    self.assertSameElements(_SINGLE, optimizers.CANNED_STRINGS)
    self.assertSameElements(_RTOL, optimizers.CANNED_STRINGS)

  @parameterized.named_parameters(*_PATHED)
  def test_continues_as_v1(self, family, names, path):
    result = _continue_both(
        self.create_tempdir().full_path, family, names, path
    )
    self.assertEqual(result.report.path, path)
    self.assertEqual(int(result.reference['global_step']), 2 * _STEPS)
    self.assertEqual(int(result.resumed['global_step']), 2 * _STEPS)
    measured = result.max_relative_difference()
    logging.info('%s %s: max relative difference %.3g', family, names, measured)
    self.assertLessEqual(measured, max(_RTOL[n] for n in names))

  def test_upstreams_v2_head_trains_differently(self):
    # Upstream's v2 side: RegressionHead(label_dimension=2), whose default
    # sum_over_batch_size divides every gradient by 10 x 2 here.
    upstream = heads.HeadTranslation(
        tf.estimator.RegressionHead(label_dimension=_LABEL_DIMENSION), None
    )
    with mock.patch.object(heads, 'translate_head', return_value=upstream):
      result = _continue_both(self.create_tempdir().full_path, 'DNN', ('SGD',))
    self.assertEqual(int(result.resumed['global_step']), 2 * _STEPS)
    measured = result.max_relative_difference()
    logging.info('upstream v2 head: max relative difference %.3g', measured)
    self.assertGreater(measured, 1e-3)


if __name__ == '__main__':
  absltest.main()
