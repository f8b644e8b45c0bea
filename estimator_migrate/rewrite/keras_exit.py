"""The Keras 3 exit (`--to_keras`): an export step after a canned construction.

For `est = tf.estimator.DNNClassifier(...)` the rewrite adds, right after it,

  est.to_keras = functools.partial(
      estimator_migrate.export.canned_to_keras,
      'DNNClassifier',
      model_dir=est.model_dir,
      hidden_units=[4],
      ...
  )

which trains and loads nothing: after training, `est.to_keras().save(DIR)`
writes the Keras 3 model (`export.canned_to_keras`, docs/export.md) from the
estimator's latest checkpoint. The arguments are the construction's own
(after its v2 rewrite), so the export sees what the estimator was built
with; `model_dir` is the estimator's, whatever chose it; `config` and
`warm_start_from` do not shape the model and are not passed. The argument
expressions are evaluated a second time, in the same scope, right after the
construction.
"""

import inspect

import libcst as cst
import tensorflow as tf

from estimator_migrate.rewrite import calls
from estimator_migrate.rewrite import layout
from estimator_migrate.rewrite import names
from estimator_migrate.rewrite import values

ATTRIBUTE = 'to_keras'
EXPORT = 'estimator_migrate.export.canned_to_keras'
# Constructor arguments that do not shape the exported model.
_NOT_MODEL = ('model_dir', 'config', 'warm_start_from')
COMMENT = (
    'the Keras 3 exit: after training, `{target}.to_keras().save(DIR)`'
    ' writes this estimator as a Keras 3 model for TensorFlow 2.16+'
    ' (model.py, weights, optimizer state; see docs/export.md). Nothing'
    ' runs until it is called.'
)


def unsupported(api: names.Api) -> str | None:
  """Why the exporter cannot take this family, or None."""
  if api.name.endswith('Estimator'):
    return (
        f'{api.name} is not exported to Keras yet (the exporter takes DNN,'
        ' Linear, DNNLinearCombined and Baseline Classifier/Regressor)'
    )
  return None


def statement(
    ctx: values.Context,
    target: str,
    api: names.Api,
    call: cst.Call,
    block: int,
) -> cst.SimpleStatementLine:
  """`<target>.to_keras = functools.partial(canned_to_keras, ...)`.

  Args:
    ctx: The file.
    target: The name the estimator is bound to.
    api: What the call constructs.
    call: The construction as it will read (after its v2 rewrite).
    block: The statement's indentation.

  Raises:
    values.NotVisible: The call's arguments cannot be named (`*args`,
      `**kwargs`).
  """
  v2_class = getattr(tf.estimator, api.name)
  bound = values.bind(inspect.signature(v2_class), call.args, api.name)
  args = [
      cst.Arg(cst.parse_expression(ctx.spell(EXPORT))),
      cst.Arg(cst.SimpleString(repr(api.name))),
      calls._keyword('model_dir', cst.parse_expression(f'{target}.model_dir')),
  ]
  args.extend(
      calls._keyword(name, arg.value)
      for name, arg in bound.items()
      if name not in _NOT_MODEL
  )
  partial = cst.Call(
      func=cst.parse_expression(ctx.spell('functools.partial')), args=args
  )
  prefix = f'{target}.{ATTRIBUTE} = '
  partial = layout.reflow(partial, block + len(prefix), block)
  return cst.SimpleStatementLine(
      [
          cst.Assign(
              targets=[
                  cst.AssignTarget(
                      cst.parse_expression(f'{target}.{ATTRIBUTE}')
                  )
              ],
              value=partial,
          )
      ]
  )


def is_exit(module: cst.Module, node: cst.CSTNode, target: str) -> bool:
  """Whether `node` is already the exit of `target` (a rerun adds none)."""
  return isinstance(node, cst.SimpleStatementLine) and module.code_for_node(
      node.body[0]
  ).startswith(f'{target}.{ATTRIBUTE} =')
