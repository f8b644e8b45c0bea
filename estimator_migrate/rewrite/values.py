"""Reads what a canned-estimator call's arguments are from the source.

Literals (and names assigned one once), TensorFlow constants, v1 optimizer
constructions (built as real v1 optimizers, so the tables can read them),
v1 decay schedules (evaluated eagerly); everything else is not visible, and
says so (`NotVisible`).
"""

import ast
import dataclasses
import inspect
from typing import Any, Protocol

import libcst as cst
import tensorflow as tf

from estimator_migrate import errors
from estimator_migrate.rewrite import names
from estimator_migrate.tables import estimators
from estimator_migrate.tables import optimizers

MISSING = object()
# tf_upgrade_v2 appends `loss_reduction=tf.keras.losses.Reduction.SUM` to
# every v1 canned Classifier/Regressor call (v1's default, in Keras' name).
UPGRADER_SUM = 'tensorflow.keras.losses.Reduction.SUM'
LEARNING_RATE = 'learning_rate'
# The step argument of v1 decay functions (piecewise_constant calls it x).
_STEP_ARGUMENTS = ('global_step', 'x')


class NotVisible(Exception):
  """A value the translation needs is not in the source; says which."""


class Context(Protocol):
  """What the transformer knows about the file a call is in."""

  def qualified(self, node: cst.CSTNode) -> str | None:
    """The qualified name a Name/Attribute/Call's callee refers to."""

  def code(self, node: cst.CSTNode) -> str:
    """The source text of `node`."""

  def line(self, node: cst.CSTNode) -> int:
    """The line `node` starts at."""

  def column(self, node: cst.CSTNode) -> int:
    """The column `node` starts at."""

  def indent(self, node: cst.CSTNode) -> int:
    """The column of the statement `node` is in."""

  def assigned(self, name: cst.Name) -> cst.BaseExpression | None:
    """The value of `name`'s only assignment in its scope, if it has one."""

  def spell(self, qualified: str) -> str:
    """`qualified` as this file writes it (`tf.keras...`), importing it."""

  def only_optimizer(self, name: cst.Name) -> bool:
    """Whether `name` is read only as canned estimators' optimizer argument."""


@dataclasses.dataclass
class OptimizerSource:
  """Where an optimizer argument's value comes from in the source."""

  kind: str  # absent, literal, v1, keras
  value: Any = None  # what translate_canned_args gets
  node: cst.BaseExpression | None = None  # the node to replace
  lambda_node: cst.Lambda | None = None
  carried: dict[str, cst.BaseExpression] = dataclasses.field(
      default_factory=dict
  )
  dropped: tuple[str, ...] = ()
  # Keras argument -> the expression v1 computes it with (a learning rate
  # capped by the number of feature columns the source does not count).
  computed: dict[str, cst.BaseExpression] = dataclasses.field(
      default_factory=dict
  )


class Opaque:
  """Stands for a value the translation passes through unchanged."""

  def __init__(self, code: str):
    self.code = code

  def __repr__(self):
    return self.code


class Uncounted(Opaque):
  """Feature columns whose number the source does not show."""

  def __iter__(self):
    raise NotVisible(
        f'the learning rate depends on the number of feature columns in'
        f' `{self.code}`, which is not a list in this file'
    )


def literal(ctx: Context, node: cst.BaseExpression | None) -> Any:
  """The value of a literal (or a name bound once to one), else MISSING."""
  if node is None:
    return MISSING
  if isinstance(node, cst.Name) and node.value not in ('None', 'True', 'False'):
    value = ctx.assigned(node)
    return MISSING if value is None else literal(ctx, value)
  try:
    return ast.literal_eval(ctx.code(node).strip())
  except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
    return MISSING


def constant(ctx: Context, node: cst.BaseExpression) -> Any:
  """A literal, or a TensorFlow constant (`tf.losses.Reduction.SUM`)."""
  value = literal(ctx, node)
  if value is not MISSING:
    return value
  qualified = ctx.qualified(node)
  if qualified and qualified.startswith('tensorflow.'):
    try:
      return names.load(qualified)
    except LookupError:
      pass
  return MISSING


def bind(
    signature: inspect.Signature, args: tuple[cst.Arg, ...], what: str
) -> dict[str, cst.Arg]:
  if any(arg.star for arg in args):
    raise NotVisible(
        f'{what} takes *args/**kwargs, whose values are not in the source'
    )
  positional = [a for a in args if a.keyword is None]
  keywords = {a.keyword.value: a for a in args if a.keyword is not None}
  try:
    return dict(signature.bind_partial(*positional, **keywords).arguments)
  except TypeError as e:
    raise errors.TranslationError(f'{what}: {e}') from e


def _v1_class_signature(cls) -> inspect.Signature:
  signature = inspect.signature(cls.__init__)
  return signature.replace(parameters=list(signature.parameters.values())[1:])


def decay_schedule(ctx: Context, node: cst.BaseExpression) -> Any:
  """A v1 decay call evaluated eagerly (a partial of its Keras schedule)."""
  if not isinstance(node, cst.Call):
    return MISSING
  api = names.classify(ctx.qualified(node) or '')
  if api is None or api.kind != 'decay':
    return MISSING
  function = getattr(tf.compat.v1.train, api.name)
  bound = bind(inspect.signature(function), node.args, api.name)
  values = {}
  for name, arg in bound.items():
    if name in _STEP_ARGUMENTS:
      values[name] = 0  # Keras evaluates the schedule at the global step
      continue
    values[name] = literal(ctx, arg.value)
    if values[name] is MISSING:
      raise NotVisible(
          f'{api.name}({name}=`{ctx.code(arg.value)}`): the schedule needs'
          ' values that are not literals in this file'
      )
  return function(**values)


def v1_optimizer(
    ctx: Context, call: cst.Call, api: names.Api
) -> OptimizerSource:
  """Builds the v1 optimizer a source construction makes."""
  if api.name in optimizers.UNSUPPORTED:
    raise errors.TranslationError(
        f'{api.name} has no Keras counterpart'
        f' ({optimizers.UNSUPPORTED[api.name]}).'
    )
  row = optimizers.OPTIMIZERS[api.name]
  cls = getattr(tf.compat.v1.train, api.name)
  bound = bind(_v1_class_signature(cls), call.args, api.name)
  hypers = {h.v1_argument: h for h in row.hypers if h.v1_argument}
  values, carried, dropped = {}, {}, []
  for name, arg in bound.items():
    if name not in hypers:
      dropped.append(name)  # use_locking, name, Ftrl's slot names
      continue
    value = literal(ctx, arg.value)
    if value is MISSING and name == LEARNING_RATE:
      value = decay_schedule(ctx, arg.value)
    if value is MISSING:
      carried[name] = arg.value
      hyper = hypers[name]
      # Any valid number: the plan takes the source expression instead.
      value = hyper.v1_default if hyper.v1_default is not None else 0.5
      value = 0.001 if name == LEARNING_RATE else value
    values[name] = value
  return OptimizerSource(
      'v1',
      cls(**values),
      node=call,
      carried=carried,
      dropped=tuple(dropped),
  )


def find_optimizer(
    ctx: Context, node: cst.BaseExpression | None, follow: bool = True
) -> OptimizerSource:
  """Finds what an optimizer argument's source value is."""
  if node is None:
    return OptimizerSource('absent')
  value = literal(ctx, node)
  if value is not MISSING and (value is None or isinstance(value, str)):
    return OptimizerSource('literal', value, node=node)
  if isinstance(node, cst.Lambda) and not node.params.params:
    found = find_optimizer(ctx, node.body, follow=False)
    if found.kind == 'v1':
      found.lambda_node = node
      found.node = node
      return found
    if found.kind == 'keras':  # a factory of a Keras optimizer: v2 already
      return OptimizerSource('keras', node=node)
  if isinstance(node, cst.Call):
    qualified = ctx.qualified(node) or ''
    if names.is_v2(qualified) or _partial_of_v2(ctx, node):
      return OptimizerSource('keras', node=node)
    api = names.classify(qualified)
    if api is not None and api.kind == 'v1_optimizer':
      return v1_optimizer(ctx, node, api)
  if follow and isinstance(node, cst.Name):
    value = ctx.assigned(node)
    if value is not None:
      try:
        found = find_optimizer(ctx, value, follow=False)
      except (NotVisible, errors.TranslationError):
        found = None
      if found is not None and found.kind == 'keras':
        return found  # kept as it is, however else it is used
      if not ctx.only_optimizer(node):
        raise NotVisible(
            f'optimizer `{ctx.code(node)}` is also used outside canned'
            " estimators' optimizer arguments, so its value is not rewritten"
        )
      found = find_optimizer(ctx, value, follow=False)
      if found.kind in ('v1', 'keras'):
        return found
  raise NotVisible(f'optimizer `{ctx.code(node)}` is not built in this file')


def _partial_of_v2(ctx: Context, node: cst.Call) -> bool:
  """`functools.partial(<Keras optimizer>, ...)`, as the rewrite writes."""
  return (
      ctx.qualified(node) == 'functools.partial'
      and bool(node.args)
      and names.is_v2(ctx.qualified(node.args[0].value) or '')
  )


def is_v2_call(ctx: Context, call: cst.Call, api: names.Api) -> bool:
  """Whether a `tf.estimator.X` call already has v2 arguments.

  A Keras optimizer (or the toolkit's) in an optimizer argument, or a Keras
  loss reduction other than tf_upgrade_v2's `tf.keras.losses.Reduction.SUM`,
  marks v2 code. tf_upgrade_v2's output (`tf.estimator.X(...,
  loss_reduction=tf.keras.losses.Reduction.SUM)` when no optimizer argument
  was given, leaving v2's default optimizers in place of v1's) is read as
  the v1 call it was, and finished.
  """
  if api.v1_only:
    return False
  row = estimators.lookup(api.name)
  watched = {a.name for a in row.family.optimizer_args} | {'loss_reduction'}
  for arg in call.args:
    if arg.keyword is None or arg.keyword.value not in watched:
      continue
    value = arg.value
    if isinstance(value, cst.Lambda):
      value = value.body
    if isinstance(value, cst.Name):
      value = ctx.assigned(value) or value
    if (
        isinstance(value, cst.Call)
        and ctx.qualified(value) == 'functools.partial'
        and value.args
    ):
      value = value.args[0].value
    qualified = ctx.qualified(value) or ''
    if arg.keyword.value == 'loss_reduction' and qualified == UPGRADER_SUM:
      # What tf_upgrade_v2 appends to a v1 call: not evidence of v2 code.
      continue
    if names.is_v2(qualified):
      return True
  return False


def countable(node: cst.BaseExpression) -> bool:
  """Whether `len(node)` can be written over the source expression."""
  return not isinstance(
      node, (cst.GeneratorExp, cst.Lambda, cst.StarredElement, cst.Yield)
  )


def columns(ctx: Context, node: cst.BaseExpression) -> Any:
  if isinstance(node, cst.Name):
    node = ctx.assigned(node) or node
  if isinstance(node, (cst.List, cst.Tuple)) and not any(
      isinstance(e, cst.StarredElement) for e in node.elements
  ):
    return [Opaque('column')] * len(node.elements)
  return Uncounted(ctx.code(node))
