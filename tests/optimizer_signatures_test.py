"""The optimizer and family tables against the real v1 and Keras classes.

Every argument name and default the tables state is read back from
`inspect.signature` of `tf.compat.v1.train.*Optimizer`, the Keras 2.15
legacy optimizers, the compat optimizers and the v1 canned estimators, and
every slot and kernel name from the classes and `tf.raw_ops`, so a TF upgrade
that changes one fails here by name.
"""

import functools
import inspect

from absl.testing import absltest
from absl.testing import parameterized
import tensorflow as tf

from estimator_migrate.tables import compat_optimizers
from estimator_migrate.tables import estimators
from estimator_migrate.tables import optimizers

_ROWS = tuple((name, row) for name, row in optimizers.OPTIMIZERS.items())


def _parameters(cls) -> dict[str, inspect.Parameter]:
  return dict(inspect.signature(cls.__init__).parameters)


def _default(parameter: inspect.Parameter):
  """The default, None for a required argument (the tables' convention)."""
  if parameter.default is inspect.Parameter.empty:
    return None
  return parameter.default


def _v1_required(row: optimizers.OptimizerRow) -> dict:
  """A value for each v1 argument without a default."""
  parameters = _parameters(getattr(tf.compat.v1.train, row.v1_class))
  return {
      name: 0.5
      for name, parameter in parameters.items()
      if name != 'self' and parameter.default is inspect.Parameter.empty
  }


class OptimizerSignaturesTest(parameterized.TestCase):

  @parameterized.named_parameters(*_ROWS)
  def test_v1_arguments_and_defaults(self, row):
    cls = getattr(tf.compat.v1.train, row.v1_class)
    parameters = _parameters(cls)
    self.assertEqual(parameters['name'].default, row.v1_name)
    v1 = cls(**_v1_required(row))
    for hyper in row.hypers:
      if hyper.v1_attr is None:
        continue
      self.assertIn(hyper.v1_argument, parameters, hyper)
      self.assertEqual(
          _default(parameters[hyper.v1_argument]), hyper.v1_default, hyper
      )
      self.assertTrue(hasattr(v1, hyper.v1_attr), hyper)

  @parameterized.named_parameters(*_ROWS)
  def test_keras_arguments_and_defaults(self, row):
    parameters = _parameters(
        getattr(tf.keras.optimizers.legacy, row.keras_class)
    )
    for hyper in row.hypers:
      self.assertIn(hyper.keras, parameters, hyper)
      self.assertEqual(
          parameters[hyper.keras].default, hyper.keras_default, hyper
      )
      if hyper.keras_present_if:
        self.assertIn(hyper.keras_present_if, parameters, hyper)

  @parameterized.named_parameters(*_ROWS)
  def test_compat_arguments_and_defaults(self, row):
    if row.compat_class is None:
      self.assertFalse(row.keras_needs_constant_lr)
      return
    parameters = _parameters(getattr(compat_optimizers, row.compat_class))
    for hyper in row.hypers:
      if hyper.compat_argument is None:
        continue
      self.assertIn(hyper.compat_argument, parameters, hyper)
      if hyper.v1_default is not None:  # v1 required: the compat has one
        self.assertEqual(
            parameters[hyper.compat_argument].default, hyper.v1_default, hyper
        )

  @parameterized.named_parameters(*_ROWS)
  def test_kernels_and_graph_names(self, row):
    for hyper in row.hypers:
      if hyper.kernel:
        for form in ('', 'Resource', 'Sparse', 'ResourceSparse'):
          op = getattr(tf.raw_ops, form + hyper.kernel)
          if hyper.kernel_attr:
            self.assertIn(hyper.kernel_attr, inspect.signature(op).parameters)
        self.assertIsNone(hyper.graph, hyper)  # read from the op, not a Const
    for hyper in row.hypers:
      for present_if in (hyper.keras_present_if,):
        if present_if:
          self.assertIn(present_if, [h.keras for h in row.hypers])
    for slot in row.slots:
      for present_if in (slot.v1_present_if, slot.keras_present_if):
        if present_if:
          self.assertIn(present_if, [h.keras for h in row.hypers])

  @parameterized.named_parameters(*_ROWS)
  def test_slots_are_those_each_class_creates(self, row):
    # Every conditional slot present: centered, Nesterov, momentum > 0.
    given = {
        **_v1_required(row),
        **{h.v1_argument: True for h in row.hypers if h.kernel},
        **{
            s.keras_present_if: 0.5
            for s in row.slots
            if s.keras_present_if and s.keras_present_if != 'centered'
        },
    }
    make = functools.partial(getattr(tf.compat.v1.train, row.v1_class), **given)
    for exact in (False, True):
      with self.subTest(exact=exact):
        plan = optimizers.plan_optimizer(make(), exact=exact)
        keras = plan.build()
        keras.apply_gradients([(tf.ones(2), tf.Variable(tf.ones(2)))])
        kept = plan.pair_slots('v', [()] * len(plan.v1_slots))
        self.assertEqual(
            set(keras.get_slot_names()), {p.keras for p in kept if p.keras}
        )
        self.assertEqual(plan.keras_name, keras.get_config()['name'])
    with tf.Graph().as_default():
      v1 = make()
      v1.minimize(tf.reduce_sum(tf.compat.v1.get_variable('v', [2])))
      self.assertEqual(
          set(v1.get_slot_names()),
          {s.v1 for s in optimizers.plan_optimizer(v1).v1_slots},
      )


class FamilySignaturesTest(parameterized.TestCase):

  @parameterized.named_parameters((n, n) for n in estimators.NAMES)
  def test_arguments_and_defaults(self, name):
    row = estimators.lookup(name)
    parameters = inspect.signature(
        getattr(tf.compat.v1.estimator, name)
    ).parameters
    for part in row.family.parts:
      arg = part.optimizer
      self.assertEqual(parameters[arg.name].default, arg.v1_default, part)
      for other in (
          part.columns_arg,
          part.hidden_units_arg,
          arg.string_cap_columns,
          arg.none_cap_columns,
      ):
        if other:
          self.assertIn(other, parameters, part)
      for optimizer in (arg.v1_default, arg.none_means):
        if optimizer:
          self.assertIn(optimizer, optimizers.CANNED_STRINGS, part)
    if row.family.partitioner_arg:
      self.assertIn(row.family.partitioner_arg, parameters)
    self.assertEqual(estimators.lookup(name + 'V2').name, name)


if __name__ == '__main__':
  absltest.main()
