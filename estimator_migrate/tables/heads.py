"""THE v1 head -> v2 head table, and the loss reductions heads own.

The `*Estimator` forms of the canned estimators take `head=` instead of
`n_classes`/`label_dimension`. TF 1.x code built that head with
`tf.contrib.estimator.regression_head` and friends, which survive in
tensorflow_estimator 2.15 as `canned/head.py`'s `_regression_head`,
`_binary_logistic_head_with_sigmoid_cross_entropy_loss` and
`_multi_class_head_with_softmax_cross_entropy_loss`. A v2 estimator cannot
train with them (`create_estimator_spec() got an unexpected keyword argument
'trainable_variables'`). Each row here names one v1 head class, its v2 head
(`tf.estimator.RegressionHead`, `BinaryClassHead`, `MultiClassHead`) and every
attribute carried over; the loss reduction, which v1 heads default to SUM and
v2 heads to SUM_OVER_BATCH_SIZE, is always made explicit.

Example:
  v1_head = head_lib._regression_head(label_dimension=2)
  translation = heads.translate_head(v1_head)
  translation.head   # RegressionHead(label_dimension=2, loss_reduction='sum')
  print(translation.change.why)
"""

import dataclasses
import inspect
import types
from typing import Any

import tensorflow as tf
from tensorflow.python.util import function_utils
from tensorflow_estimator.python.estimator.canned import head as v1_head_lib

from estimator_migrate import errors
from estimator_migrate import report

# v1 heads and canned estimators default to tf.compat.v1.losses.Reduction.SUM.
V1_DEFAULT_REDUCTION = 'weighted_sum'

# v1 loss_reduction values (tf.compat.v1.losses.Reduction) -> v2 values
# (tf.keras.losses.Reduction). MEAN and SUM_BY_NONZERO_WEIGHTS divide by the
# sum (count) of weights; without a weight column that is the number of
# losses, which is what SUM_OVER_BATCH_SIZE divides by.
REDUCTIONS: types.MappingProxyType[str, tuple[str, bool]] = (
    types.MappingProxyType(
        {
            # v1 value: (v2 value, needs no weight column)
            V1_DEFAULT_REDUCTION: ('sum', False),
            'weighted_sum_over_batch_size': ('sum_over_batch_size', False),
            'weighted_mean': ('sum_over_batch_size', True),
            'weighted_sum_by_nonzero_weights': ('sum_over_batch_size', True),
        }
    )
)


@dataclasses.dataclass(frozen=True)
class Attribute:
  """A head attribute: where v1 keeps it, which v2 argument takes it."""

  v1: str  # attribute of the v1 head object
  v2: str  # argument of the v2 head's constructor


# Made explicit on every head: translated through REDUCTIONS, never defaulted.
_LOSS_REDUCTION = Attribute('_loss_reduction', 'loss_reduction')
_COMMON = (
    Attribute('_weight_column', 'weight_column'),
    Attribute('_loss_fn', 'loss_fn'),
    Attribute('_name', 'name'),
)


@dataclasses.dataclass(frozen=True)
class HeadRow:
  """One v1 head class and the v2 head that trains the same way."""

  v1_class: str  # tensorflow_estimator...canned.head.<v1_class>
  v1_factory: str  # ...canned.head.<v1_factory>(), contrib's *_head in TF 1.x
  v2_class: str  # tf.estimator.<v2_class>
  attributes: tuple[Attribute, ...]  # every one but _LOSS_REDUCTION

  def v1_type(self) -> type:
    return getattr(v1_head_lib, self.v1_class)

  def v2_type(self) -> type:
    return getattr(tf.estimator, self.v2_class)


HEADS: types.MappingProxyType[str, HeadRow] = types.MappingProxyType(
    {
        row.v1_class: row
        for row in (
            HeadRow(
                '_RegressionHeadWithMeanSquaredErrorLoss',
                '_regression_head',
                'RegressionHead',
                (
                    Attribute('_logits_dimension', 'label_dimension'),
                    Attribute('_inverse_link_fn', 'inverse_link_fn'),
                )
                + _COMMON,
            ),
            HeadRow(
                '_BinaryLogisticHeadWithSigmoidCrossEntropyLoss',
                '_binary_logistic_head_with_sigmoid_cross_entropy_loss',
                'BinaryClassHead',
                (
                    Attribute('_thresholds', 'thresholds'),
                    Attribute('_label_vocabulary', 'label_vocabulary'),
                )
                + _COMMON,
            ),
            HeadRow(
                '_MultiClassHeadWithSoftmaxCrossEntropyLoss',
                '_multi_class_head_with_softmax_cross_entropy_loss',
                'MultiClassHead',
                (
                    Attribute('_n_classes', 'n_classes'),
                    Attribute('_label_vocabulary', 'label_vocabulary'),
                )
                + _COMMON,
            ),
        )
    }
)

# v2 heads call loss_fn(labels=, logits=[, features=]) as v1 heads do, and
# accept these argument names (tensorflow_estimator head/base_head.py).
_LOSS_FN_REQUIRED = ('labels', 'logits')
_LOSS_FN_ALLOWED = ('labels', 'logits', 'features', 'loss_reduction')


@dataclasses.dataclass(frozen=True)
class HeadTranslation:
  """The v2 head for a `head=` argument, and what changed.

  `change` is None when the head was already a v2 head (passed through).
  """

  head: Any
  change: report.Change | None


def v1_reduction_named(v2_value: str) -> str | None:
  """The v1 reduction that `v2_value` renames (`'sum'` -> `'weighted_sum'`).

  None when no v1 reduction is the same under that v2 name. Lets the source
  rewriter read `tf.keras.losses.Reduction.SUM` given to a v1 estimator (what
  tf_upgrade_v2 inserts) as the v1 reduction it meant.
  """
  for v1_value, (new, needs_no_weights) in REDUCTIONS.items():
    if new == v2_value and not needs_no_weights:
      return v1_value
  return None


def translate_reduction(
    value: str,
    weight_column: Any,
    *,
    given: bool,
    where: str = '',
) -> tuple[str, str]:
  """Translates a v1 loss reduction to the v2 one that sums the same way.

  Args:
    value: A `tf.compat.v1.losses.Reduction` value other than NONE.
    weight_column: The weight column of the same head or estimator, if any.
    given: Whether the user gave `value` (else it is v1's default SUM).
    where: Prefix naming the owner in errors (e.g. `'head: '`).

  Returns:
    The v2 (`tf.keras.losses.Reduction`) value and why it is the same.

  Raises:
    TranslationError: Not a v1 reduction, or one that divides by the sum of
      the weights (v2 has none).
  """
  if value not in REDUCTIONS:
    raise errors.TranslationError(
        f'{where}loss_reduction={value!r} is not a v1 canned-estimator'
        f' reduction; expected one of {sorted(REDUCTIONS)}'
        ' (tf.compat.v1.losses.Reduction values).',
        argument='loss_reduction',
    )
  new, needs_no_weights = REDUCTIONS[value]
  if needs_no_weights and weight_column is not None:
    raise errors.TranslationError(
        f'{where}loss_reduction={value!r} divides by the sum of the weights of'
        f' weight_column={weight_column!r}; v2 has no such reduction. Use'
        ' loss_reduction=SUM and scale the learning rate, or normalise the'
        ' weights to mean 1 and use SUM_OVER_BATCH_SIZE.',
        argument=('loss_reduction', 'weight_column'),
    )
  if not given:
    why = (
        "v1's default SUM made explicit: v2's default sum_over_batch_size"
        ' divides the loss, and every gradient, by the batch size'
    )
  elif value in (V1_DEFAULT_REDUCTION, 'weighted_sum_over_batch_size'):
    why = 'the same reduction under its v2 name'
  else:
    why = (
        'without a weight column, v1 divides by the number of losses,'
        ' as sum_over_batch_size does'
    )
  return new, why


def _show(value: Any) -> str:
  if isinstance(value, str):
    return repr(value)
  if callable(value):
    return getattr(value, '__name__', type(value).__name__)
  key = getattr(value, 'key', None)  # a feature column
  if isinstance(key, str):
    return f'{type(value).__name__.lstrip("_")}({key!r})'
  return repr(value)


def _describe(function: str, arguments: dict[str, Any], defaults) -> str:
  shown = ', '.join(
      f'{name}={_show(value)}'
      for name, value in arguments.items()
      if name == _LOSS_REDUCTION.v2
      or not (value is None or value == () or value == defaults.get(name))
  )
  return f'{function}({shown})'


def _check_loss_fn(loss_fn: Any, row: HeadRow) -> None:
  if loss_fn is None:
    return
  # The argument names v1 and v2 heads read (partial's bound ones removed).
  names = tuple(function_utils.fn_args(loss_fn))
  missing = [n for n in _LOSS_FN_REQUIRED if n not in names]
  extra = [n for n in names if n not in _LOSS_FN_ALLOWED]
  if missing or extra:
    raise errors.TranslationError(
        f'head: loss_fn={_show(loss_fn)} takes {list(names)};'
        f' tf.estimator.{row.v2_class} calls loss_fn(labels=, logits=) and'
        f' accepts only the arguments {list(_LOSS_FN_ALLOWED)}. Rewrite it'
        ' as loss_fn(labels, logits, features=None) returning the unreduced'
        ' loss of shape [batch_size, logits_dimension or 1] (a Keras loss'
        ' object: wrap it in a function of labels and logits with'
        ' reduction NONE).'
    )


def _row_of(head: Any) -> HeadRow:
  for row in HEADS.values():
    if type(head) is row.v1_type():
      return row
    if isinstance(head, row.v1_type()):
      raise errors.TranslationError(
          f'head={type(head).__name__}(...) subclasses the v1 head'
          f' {row.v1_class}; what it overrides has no v2 counterpart to'
          f' carry. Port the subclass to tf.estimator.{row.v2_class} (or'
          ' another tf.estimator.Head) and pass that v2 head as head=.',
          argument='head',
      )
  raise errors.TranslationError(
      f'head={type(head).__name__}(...) is not a head this toolkit'
      f' translates. Translatable v1 heads: {sorted(HEADS)} (from'
      f' {sorted(row.v1_factory for row in HEADS.values())}); a'
      ' tf.estimator.Head (v2) passes through. Build the matching v2 head'
      ' (tf.estimator.RegressionHead, BinaryClassHead, MultiClassHead,'
      ' MultiLabelHead, MultiHead, ...) and pass it as head=.',
      argument='head',
  )


def translate_head(head: Any) -> HeadTranslation:
  """Builds the v2 head that trains as a v1 head does.

  Args:
    head: A v1 head (`canned.head._regression_head(...)`, the binary
      logistic or the multi-class softmax head), or a `tf.estimator.Head`
      (returned unchanged).

  Returns:
    The v2 head, every attribute carried and the loss reduction explicit,
    and the change record (None for a v2 head).

  Raises:
    TranslationError: A head of another class or a subclass, a loss_fn v2
      cannot call, or a loss reduction v2 cannot express.

  Example:
    v1_head = head_lib._multi_class_head_with_softmax_cross_entropy_loss(3)
    heads.translate_head(v1_head).head
    # -> MultiClassHead(n_classes=3, loss_reduction='sum')
  """
  if isinstance(head, tf.estimator.Head):
    return HeadTranslation(head, None)
  row = _row_of(head)
  arguments = {a.v2: getattr(head, a.v1) for a in row.attributes}
  _check_loss_fn(arguments['loss_fn'], row)
  value = getattr(head, _LOSS_REDUCTION.v1)
  reduction, why = translate_reduction(
      value,
      arguments['weight_column'],
      # SUM is v1's default, and what v2's default silently changes.
      given=value != V1_DEFAULT_REDUCTION,
      where='head: ',
  )
  v2_head = row.v2_type()(**arguments, **{_LOSS_REDUCTION.v2: reduction})
  defaults = {
      name: p.default
      for name, p in inspect.signature(row.v2_type()).parameters.items()
  }
  old = _describe(
      row.v1_factory, arguments | {_LOSS_REDUCTION.v2: value}, defaults
  )
  new = _describe(
      row.v2_class, arguments | {_LOSS_REDUCTION.v2: reduction}, defaults
  )
  if arguments['loss_fn'] is not None:
    why += (
        '; v2 calls loss_fn with the same processed labels, logits and'
        ' features'
    )
  return HeadTranslation(
      v2_head, report.Change('head', old, new, why + '.', True)
  )
