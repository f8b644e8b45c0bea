"""TF 1.x's `tf.contrib.estimator.*_head(...)` written as their v2 heads.

The `*Estimator` canned forms took their head from `tf.contrib.estimator`
in TF 1.x; contrib is gone in TF 2 (tf_upgrade_v2 only says "Manual edit
required"). Each factory has a v2 head that trains the same way
(`estimator_migrate.tables.heads.HEADS`): `regression_head` -> `RegressionHead`,
`binary_classification_head` -> `BinaryClassHead`, `multi_class_head` ->
`MultiClassHead`, arguments carried by name. The loss reduction is always
made explicit: contrib's factories defaulted it to SUM_OVER_BATCH_SIZE
(TF 1.9 to 1.15), and a v1 value given is translated with
`heads.REDUCTIONS`.
"""

import types

import libcst as cst

from estimator_migrate import errors
from estimator_migrate.rewrite import report
from estimator_migrate.rewrite import values
from estimator_migrate.tables import heads

PREFIX = 'tensorflow.contrib.estimator.'
# contrib factory: (v2 head class, the factory's arguments in order).
FACTORIES: types.MappingProxyType[str, tuple[str, tuple[str, ...]]] = (
    types.MappingProxyType(
        {
            'regression_head': (
                'RegressionHead',
                (
                    'weight_column',
                    'label_dimension',
                    'loss_reduction',
                    'loss_fn',
                    'inverse_link_fn',
                    'name',
                ),
            ),
            'binary_classification_head': (
                'BinaryClassHead',
                (
                    'weight_column',
                    'thresholds',
                    'label_vocabulary',
                    'loss_reduction',
                    'loss_fn',
                    'name',
                ),
            ),
            'multi_class_head': (
                'MultiClassHead',
                (
                    'n_classes',
                    'weight_column',
                    'label_vocabulary',
                    'loss_reduction',
                    'loss_fn',
                    'name',
                ),
            ),
        }
    )
)
# contrib's default (tf.losses.Reduction.SUM_OVER_BATCH_SIZE), TF 1.9-1.15.
CONTRIB_REDUCTION = 'weighted_sum_over_batch_size'
_V2_REDUCTIONS = {
    'sum': 'SUM',
    'sum_over_batch_size': 'SUM_OVER_BATCH_SIZE',
}


def factory(ctx: values.Context, node: cst.BaseExpression) -> str | None:
  """The contrib head factory `node` calls, or None."""
  if not isinstance(node, cst.Call):
    return None
  qualified = ctx.qualified(node) or ''
  name = qualified.removeprefix(PREFIX)
  return name if qualified.startswith(PREFIX) and name in FACTORIES else None


def translate(
    ctx: values.Context, node: cst.Call, line: int
) -> tuple[cst.Call, report.Edit]:
  """`tf.contrib.estimator.X_head(...)` as `tf.estimator.XHead(...)`.

  Raises:
    values.NotVisible: *args/**kwargs, or a loss reduction that is not a
      constant here.
    TranslationError: A reduction the v2 head cannot reproduce.
  """
  name = factory(ctx, node)
  v2_class, order = FACTORIES[name]
  if any(a.star for a in node.args):
    raise values.NotVisible(f'{name} takes *args/**kwargs')
  positional = [a for a in node.args if a.keyword is None]
  if len(positional) > len(order):
    raise errors.TranslationError(f'{name}: too many arguments')
  bound = dict(zip(order, (a.value for a in positional), strict=False))
  bound.update({a.keyword.value: a.value for a in node.args if a.keyword})
  reduction_node = bound.pop('loss_reduction', None)
  v1_value = CONTRIB_REDUCTION
  if reduction_node is not None:
    v1_value = values.constant(ctx, reduction_node)
    if not isinstance(v1_value, str):
      raise values.NotVisible(
          f'{name}(loss_reduction=`{ctx.code(reduction_node)}`) is not a'
          ' constant in this file'
      )
  if v1_value not in heads.REDUCTIONS:
    raise errors.TranslationError(
        f'{name}: loss_reduction {v1_value!r} has no v2 head equivalent'
    )
  v2_value, unweighted_only = heads.REDUCTIONS[v1_value]
  if unweighted_only and 'weight_column' in bound:
    raise errors.TranslationError(
        f'{name}: loss_reduction {v1_value!r} divides by the sum of weights,'
        ' which no v2 reduction does with a weight column'
    )
  reduction = ctx.spell(
      f'tensorflow.keras.losses.Reduction.{_V2_REDUCTIONS[v2_value]}'
  )
  args = [
      cst.Arg(
          keyword=cst.Name(key),
          value=value,
          equal=cst.AssignEqual(
              whitespace_before=cst.SimpleWhitespace(''),
              whitespace_after=cst.SimpleWhitespace(''),
          ),
      )
      for key, value in [
          *bound.items(),
          ('loss_reduction', cst.parse_expression(reduction)),
      ]
  ]
  new = cst.Call(
      func=cst.parse_expression(ctx.spell(f'tensorflow.estimator.{v2_class}')),
      args=args,
  )
  given = 'given' if reduction_node is not None else "contrib's default"
  edit = report.Edit(
      '',
      line,
      'head',
      ctx.code(node),
      cst.Module([]).code_for_node(new),
      True,
      f'tf.contrib is gone in TF 2: the v2 head that trains as contrib.'
      f'estimator.{name} did (estimator_migrate.tables.heads.HEADS);'
      f' loss_reduction {v1_value!r} ({given}) made explicit as {v2_value!r}',
  )
  return new, edit
