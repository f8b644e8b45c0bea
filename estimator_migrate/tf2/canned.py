"""Translates v1 canned-estimator arguments to v2, keeping the training math.

`translate_canned_args('DNNClassifier', **v1_kwargs)` returns the kwargs for
`tf.estimator.DNNClassifier` and a record of every change:
- optimizers (strings, v1 objects, callables, and v1's defaults) become Keras
  legacy optimizers with every hyperparameter carried over (`optimizers.py`);
- `loss_reduction` is made explicit: v1's default SUM stays SUM (v2's default
  would divide the loss, and so every gradient, by the batch size);
- a v1 `head=` (the `*Estimator` forms) becomes its v2 head, every attribute
  and the loss reduction carried (`heads.py`); a v2 head passes through;
- `input_layer_partitioner` / `partitioner` are dropped (v2 has none);
- every other argument passes through unchanged.

Example:
  translation = canned.translate_canned_args(
      'DNNClassifier', hidden_units=[8], feature_columns=columns,
      optimizer=tf.compat.v1.train.AdamOptimizer(0.01))
  print(translation.table())
  estimator = tf.estimator.DNNClassifier(**translation.kwargs)
"""

from collections.abc import Callable, Mapping
import dataclasses
import inspect
import types
from typing import Any

import tensorflow as tf

from estimator_migrate import errors
from estimator_migrate import report
from estimator_migrate.tables import estimators
from estimator_migrate.tables import heads
from estimator_migrate.tables import optimizers

PARTITIONER_ADVICE = (
    'v2 estimators have no partitioner: partition variables with'
    ' tf.distribute.experimental.ParameterServerStrategy(variable_partitioner='
    '...); values are unchanged, and the checkpoint converter joins the parts'
)


@dataclasses.dataclass(frozen=True)
class Translation:
  """The v2 kwargs of one canned estimator, and what changed."""

  estimator: str
  kwargs: Mapping[str, Any]
  changes: tuple[report.Change, ...]

  @property
  def exact(self) -> bool:
    return all(change.exact for change in self.changes)

  def table(self) -> str:
    return report.changes_table(self.changes)


class _TranslatedCallable:
  """A v1 optimizer factory whose result is translated at every call."""

  def __init__(self, factory: Callable[[], Any], exact: bool, where: str):
    self._factory = factory
    self._exact = exact
    self._where = where

  def __call__(self):
    return optimizers.translate_optimizer(self._factory(), exact=self._exact)

  def __repr__(self):
    return f'translate_optimizer({self._where}())'


def _v1_signature(row: estimators.EstimatorRow) -> inspect.Signature:
  return inspect.signature(getattr(tf.compat.v1.estimator, row.name))


def _optimizer_change(row, arg, value, given, kwargs, exact):
  """Translates one optimizer argument; returns (v2 value, change or None)."""
  if value is None and arg.none_means:
    rate = estimators.capped_learning_rate(
        arg.string_lr, kwargs.get(arg.none_cap_columns) or ()
    )
    value = optimizers.v1_optimizer_from_string(
        arg.none_means, learning_rate=rate
    )
  if callable(value) and not isinstance(
      value, (str, tf.compat.v1.train.Optimizer)
  ):
    return _TranslatedCallable(value, exact, arg.name), report.Change(
        arg.name,
        'a callable',
        'the callable, its optimizer translated when the graph is built',
        'v1 calls it inside model_fn; so does v2',
        True,
    )
  plan = optimizers.plan_optimizer(
      value,
      estimator=row.name,
      argument=arg.name,
      feature_columns=kwargs.get(arg.string_cap_columns or '', None),
      exact=exact,
  )
  why = '; '.join(plan.notes)
  if isinstance(value, str) or not given:
    why = (
        f'v1 gives {"its default " if not given else ""}{value!r} learning'
        f' rate {plan.config["learning_rate"]!r}; v2 would give Keras\''
        f' default. {why}'
    )
  return plan, report.Change(
      arg.name, optimizers.describe_v1(value), plan.describe(), why, plan.exact
  )


def _loss_reduction_change(v1_kwargs, given):
  value = v1_kwargs.get('loss_reduction', heads.V1_DEFAULT_REDUCTION)
  new, why = heads.translate_reduction(
      value, v1_kwargs.get('weight_column'), given=given
  )
  return new, report.Change(
      'loss_reduction',
      repr(value) if given else f'{value!r} (default)',
      repr(new),
      why,
      True,
  )


def translate_canned_args(
    estimator: Any, *, exact: bool = False, **v1_kwargs: Any
) -> Translation:
  """Translates v1 canned-estimator arguments to their v2 equivalents.

  Args:
    estimator: The estimator's name (`'DNNClassifier'`), or its v1 or v2
      class; DNN, Linear, DNNLinearCombined and Baseline, each as
      Classifier, Regressor or Estimator.
    exact: Use the compat optimizers where Keras' class differs from v1
      (see `optimizers.plan_optimizer`).
    **v1_kwargs: The arguments the v1 estimator was built with.

  Returns:
    The v2 kwargs and one change record per argument that changed.

  Raises:
    TranslationError: An unknown estimator or argument, an optimizer with no
      Keras counterpart, a head v2 cannot carry, or a loss reduction v2
      cannot express.
  """
  row = estimators.lookup(estimator)
  signature = _v1_signature(row)
  unknown = sorted(set(v1_kwargs) - set(signature.parameters))
  if unknown:
    raise errors.TranslationError(
        f'{row.name} (v1) has no argument(s) {unknown}. Valid:'
        f' {list(signature.parameters)}.'
    )
  kwargs = dict(v1_kwargs)
  changes = []
  if row.has_head:
    if 'head' not in v1_kwargs:
      raise errors.TranslationError(
          f'{row.name} needs head=, the v1 head it was built with.'
      )
    translated = heads.translate_head(v1_kwargs['head'])
    kwargs['head'] = translated.head
    changes.extend([translated.change] if translated.change else [])
  for arg in row.family.optimizer_args:
    given = arg.name in v1_kwargs
    value = v1_kwargs.get(arg.name, arg.v1_default)
    kwargs[arg.name], change = _optimizer_change(
        row, arg, value, given, kwargs, exact
    )
    changes.append(change)
  if row.has_loss_reduction:
    kwargs['loss_reduction'], change = _loss_reduction_change(
        v1_kwargs, 'loss_reduction' in v1_kwargs
    )
    changes.append(change)
  partitioner = row.family.partitioner_arg
  if partitioner and partitioner in kwargs:
    old = kwargs.pop(partitioner)
    changes.append(
        report.Change(
            partitioner, repr(old), '(removed)', PARTITIONER_ADVICE, True
        )
    )
  return Translation(row.name, types.MappingProxyType(kwargs), tuple(changes))


def make_v2_estimator(
    estimator: Any, *, exact: bool = False, **v1_kwargs: Any
) -> tf.estimator.Estimator:
  """Builds the v2 canned estimator from v1 arguments in one call.

  Same arguments as `translate_canned_args`.

  Example:
    estimator = canned.make_v2_estimator(
        tf.compat.v1.estimator.LinearClassifier, feature_columns=columns,
        partitioner=tf.compat.v1.fixed_size_partitioner(2))
  """
  translation = translate_canned_args(estimator, exact=exact, **v1_kwargs)
  return getattr(tf.estimator, translation.estimator)(**translation.kwargs)
