"""Tests of variable classification and the index reader (no training)."""

import os

from absl.testing import absltest
import numpy as np
import tensorflow as tf

from estimator_migrate import errors
from estimator_migrate.checkpoints import roles
from estimator_migrate.checkpoints import source
from estimator_migrate.checkpoints.bundle import index
from estimator_migrate.checkpoints.bundle import ranges


def _variables(spec):
  return {
      name: source.Variable(name, shape, tf.float32)
      for name, shape in spec.items()
  }


class ClassifyTest(absltest.TestCase):

  def test_slots_powers_and_step(self):
    layout = roles.classify(
        _variables(
            {
                'dnn/logits/kernel': (4, 3),
                'dnn/logits/kernel/t_0/Adam': (4, 3),
                'dnn/logits/kernel/t_0/Adam_1': (4, 3),
                'head/beta1_power': (),
                'head/beta2_power_1': (),
                'global_step': (),
            }
        )
    )
    self.assertEqual(layout.model, ('dnn/logits/kernel',))
    self.assertEqual(
        [s.index for s in layout.slots['dnn/logits/kernel']], [0, 1]
    )
    self.assertEqual(layout.powers, ('head/beta1_power', 'head/beta2_power_1'))
    self.assertEqual(layout.step, 'global_step')
    self.assertEqual(layout.estimator_type(), 'dnn')
    self.assertEqual(layout.slot_optimizer('dnn'), 'Adam')

  def test_feature_named_like_an_optimizer_is_a_model_variable(self):
    layout = roles.classify(
        _variables(
            {
                'linear/linear_model/Adam_clicks/weights': (3, 1),
                'linear/linear_model/Adam_clicks/weights/Ftrl': (3, 1),
                'linear/linear_model/Adam_clicks/weights/Ftrl_1': (3, 1),
                'linear/linear_model/bias_weights': (1,),
            }
        )
    )
    self.assertIn('linear/linear_model/Adam_clicks/weights', layout.model)
    self.assertEqual(layout.slot_optimizer('linear'), 'Ftrl')

  def test_a_name_with_another_shape_is_not_a_slot(self):
    layout = roles.classify(
        _variables(
            {
                'linear/x/weights': (3, 1),
                'linear/x/weights/Adam': (2,),
            }
        )
    )
    self.assertIn('linear/x/weights/Adam', layout.model)

  def test_partition_keys_grouped_in_slot_order(self):
    layout = roles.classify(
        _variables(
            {
                'dnn/emb': (4, 2),
                'dnn/emb/t_1/Adagrad': (4, 2),
                'dnn/emb/t_0/Adagrad': (4, 2),
            }
        )
    )
    (group,) = layout.slot_groups('dnn/emb')
    self.assertEqual([s.partition for s in group], [0, 1])

  def test_combined_and_unknown_types(self):
    both = roles.classify(_variables({'dnn/a': (1,), 'linear/b': (1,)}))
    self.assertEqual(both.estimator_type(), 'dnn_linear_combined')
    custom = roles.classify(_variables({'conv2d/kernel': (3, 3, 1, 8)}))
    with self.assertRaisesRegex(errors.CheckpointError, 'assignment_map'):
      custom.estimator_type()
    converted = roles.classify(
        _variables({'dnn/a': (1,), 'training/Adam/dnn/a/m': (1,)})
    )
    with self.assertRaisesRegex(errors.CheckpointError, 'already'):
      converted.estimator_type()


class IndexTest(absltest.TestCase):

  def test_reads_slices_of_a_partitioned_tensor(self):
    prefix = os.path.join(self.create_tempdir().full_path, 'ckpt')
    tf.raw_ops.SaveV2(
        prefix=prefix,
        tensor_names=['whole', 'parted', 'parted'],
        shape_and_slices=['', '6 2 0,4:-', '6 2 4,2:-'],
        tensors=[
            np.zeros(3, np.float32),
            np.ones((4, 2), np.float32),
            np.ones((2, 2), np.float32),
        ],
    )
    entries = index.read_entries(prefix)
    self.assertEqual(set(entries), {'whole', 'parted'})
    self.assertEqual(
        index.row_ranges(entries['parted'], (6, 2)), [(0, 4), (4, 6)]
    )
    self.assertEqual(index.row_ranges(entries['whole'], (3,)), [(0, 3)])

  def test_ranged_reads_cross_stored_slices(self):
    prefix = os.path.join(self.create_tempdir().full_path, 'ckpt')
    table = np.arange(60, dtype=np.float32).reshape(6, 10)
    # Saved out of order, in two slices, as a partitioned variable is.
    tf.raw_ops.SaveV2(
        prefix=prefix,
        tensor_names=['t', 't', 's'],
        shape_and_slices=['6 10 4,2:-', '6 10 0,4:-', ''],
        tensors=[table[4:], table[:4], np.int64(7)],
    )
    reader = ranges.RangeReader(prefix)
    try:
      for start, stop in ((0, 6), (3, 5), (4, 6), (1, 2)):
        np.testing.assert_array_equal(
            reader.read_rows('t', tf.float32, (6, 10), start, stop),
            table[start:stop],
        )
      self.assertEqual(reader.read_rows('s', tf.int64, (), 0, 0), 7)
    finally:
      reader.close()

  def test_garbage_is_a_clear_error(self):
    prefix = os.path.join(self.create_tempdir().full_path, 'ckpt')
    with open(prefix + '.index', 'wb') as f:
      f.write(b'not an index at all' * 4)
    with self.assertRaisesRegex(errors.CheckpointError, r'ckpt\.index'):
      index.read_entries(prefix)


if __name__ == '__main__':
  absltest.main()
