"""Translates one canned-estimator call's source with the toolkit's tables.

The source's values (read by `values`) are turned into the objects
`canned.translate_canned_args` takes (a v1 optimizer built from the literal
arguments, a decay schedule evaluated eagerly, stand-ins for everything the
translation only passes through), and the translation is written back as
source: the Keras
optimizer's class and arguments come from the optimizer plan, the learning
rate and loss reduction from the same tables `translate_canned_args` reads.
Expressions the source computes (`learning_rate=FLAGS.lr`) are carried as
written into the argument that means the same.
"""

from collections.abc import Mapping
import dataclasses
import inspect
from typing import Any

import libcst as cst
import tensorflow as tf

from estimator_migrate import errors
from estimator_migrate import report as change_report
from estimator_migrate.rewrite import contrib_heads
from estimator_migrate.rewrite import layout
from estimator_migrate.rewrite import names
from estimator_migrate.rewrite import report
from estimator_migrate.rewrite import values
from estimator_migrate.tables import estimators
from estimator_migrate.tables import heads
from estimator_migrate.tables import optimizers
from estimator_migrate.tf2 import canned

RUNTIME_CALL = 'estimator_migrate.tf2.canned.make_v2_estimator'
TO_ESTIMATOR = 'estimator_migrate.tf2.keras_estimator.to_estimator'


@dataclasses.dataclass(frozen=True)
class CallRewrite:
  """A call's new form, the other nodes it changes, and the edits."""

  call: cst.Call | None  # None: unchanged
  replacements: Mapping[cst.CSTNode, cst.CSTNode]
  comments: tuple[str, ...]
  edits: tuple[report.Edit, ...]  # path filled in by the caller


@dataclasses.dataclass(frozen=True)
class CallSite:
  """One canned-estimator construction being rewritten, read from its file.

  Attributes:
    ctx: The file the call is in.
    call: The construction.
    api: What it constructs (`names.classify`).
    row: The estimator's row in the table.
    bound: Its arguments by parameter name (`values.bind`).
    found: Each optimizer argument -> where its value comes from.
    notes: Argument -> what its edit's reason adds (a Keras reduction given
      to the v1 class, read as v1's).
  """

  ctx: values.Context
  call: cst.Call
  api: names.Api
  row: estimators.EstimatorRow
  bound: Mapping[str, cst.Arg]
  found: Mapping[str, values.OptimizerSource]
  notes: Mapping[str, str]


@dataclasses.dataclass(frozen=True)
class _NewOptimizer:
  """An optimizer argument's new value and where it goes."""

  value: cst.BaseExpression
  # The node of the variable the value replaces; None: the argument's value.
  replaces: cst.BaseExpression | None
  edit: report.Edit


def _render_value(ctx: values.Context, value: Any) -> cst.BaseExpression:
  if isinstance(value, tf.keras.optimizers.schedules.LearningRateSchedule):
    config = {k: v for k, v in value.get_config().items() if v is not None}
    return _render_call(
        ctx,
        f'tensorflow.keras.optimizers.schedules.{type(value).__name__}',
        {k: _render_value(ctx, v) for k, v in config.items()},
    )
  value = _python(value)
  try:
    return cst.parse_expression(repr(value))
  except cst.ParserSyntaxError as e:
    raise errors.TranslationError(
        f'the translated value {value!r} cannot be written as source'
    ) from e


def _python(value: Any) -> Any:
  """Plain Python numbers and lists for tensors (schedule configs hold them)."""
  if hasattr(value, 'numpy'):
    value = value.numpy()
  if hasattr(value, 'ndim') and value.ndim:
    return [_python(v) for v in value]
  if hasattr(value, 'item') and hasattr(value, 'dtype'):
    # str() of a float32 is its shortest form (0.1, not 0.10000000149...).
    return float(str(value)) if value.dtype.kind == 'f' else value.item()
  if isinstance(value, (list, tuple)):
    return type(value)(_python(v) for v in value)
  return value


def _render_call(
    ctx: values.Context, qualified: str, args: Mapping[str, cst.BaseExpression]
) -> cst.Call:
  return cst.Call(
      func=cst.parse_expression(ctx.spell(qualified)),
      args=[_keyword(key, value) for key, value in args.items()],
  )


def _render_plan(
    ctx: values.Context,
    plan: optimizers.OptimizerPlan,
    found: values.OptimizerSource,
    variable: bool,
) -> cst.BaseExpression:
  """The plan as source: a factory of the Keras optimizer.

  A factory, not an instance, as `translate_canned_args` gives (the plan is
  callable): an Estimator builds a graph per train() call, and a Keras
  optimizer instance fails in the second ("Cannot set `iterations` to a new
  Variable after the Optimizer weights have been created"). An argument
  becomes `lambda: Class(...)`; a variable `functools.partial(Class, ...)`.
  """
  by_name = {}
  for hyper in plan.row.hypers:
    by_name[hyper.keras] = hyper
    if hyper.v1_argument:
      by_name.setdefault(hyper.v1_argument, hyper)
  args = {}
  for key, value in plan.config.items():
    hyper = by_name.get(key)
    source = found.carried.get(hyper.v1_argument) if hyper else None
    if source is None and hyper is not None:
      source = found.computed.get(hyper.keras)
    args[key] = source if source is not None else _render_value(ctx, value)
  if variable and found.lambda_node is None:
    partial = _render_call(ctx, 'functools.partial', args)
    cls = cst.Arg(cst.parse_expression(ctx.spell(plan.qualified_class)))
    return partial.with_changes(args=[cls, *partial.args])
  call = _render_call(ctx, plan.qualified_class, args)
  if found.lambda_node is not None:
    return found.lambda_node.with_changes(body=call)
  return cst.Lambda(params=cst.Parameters(), body=call)


def _edit(
    argument: str, line: int, before: str, after: str, exact: bool, why: str
) -> report.Edit:
  return report.Edit('', line, argument, before, after, exact, why)


def _keyword(name: str, value: cst.BaseExpression) -> cst.Arg:
  return cst.Arg(
      keyword=cst.Name(name),
      value=value,
      equal=cst.AssignEqual(
          whitespace_before=cst.SimpleWhitespace(''),
          whitespace_after=cst.SimpleWhitespace(''),
      ),
  )


def _comment(comma: Any) -> cst.TrailingWhitespace | None:
  """The end-of-line comment after a comma, if there is one."""
  if isinstance(comma, cst.Comma) and isinstance(
      comma.whitespace_after, cst.ParenthesizedWhitespace
  ):
    if comma.whitespace_after.first_line.comment is not None:
      return comma.whitespace_after.first_line
  return None


def relayout(
    original: tuple[cst.Arg, ...],
    args: list[cst.Arg],
    origins: list[cst.Arg | None],
) -> list[cst.Arg]:
  """Gives a one-per-line call's new `args` the original's separators.

  `origins[i]` is the original argument `args[i]` came from (None for a new
  one); an argument keeps its own comma, and so its end-of-line comment.
  """
  separator = original[-2].comma
  last = original[-1].comma
  # The whitespace before `)` belongs to the last argument.
  closing = original[-1].whitespace_after_arg
  inner = original[0].whitespace_after_arg
  out = []
  for i, (arg, origin) in enumerate(zip(args, origins, strict=True)):
    comment = _comment(origin.comma) if origin is not None else None
    if i == len(args) - 1:
      arg = arg.with_changes(comma=last, whitespace_after_arg=closing)
      if comment is not None and _comment(last) is None:
        arg = arg.with_changes(
            comma=last.with_changes(
                whitespace_after=last.whitespace_after.with_changes(
                    first_line=comment
                )
            )
        )
    elif origin is None or origin is original[-1]:
      arg = arg.with_changes(comma=separator, whitespace_after_arg=inner)
      if comment is not None:
        arg = arg.with_changes(
            comma=separator.with_changes(
                whitespace_after=separator.whitespace_after.with_changes(
                    first_line=comment
                )
            )
        )
    out.append(arg)
  return out


def _reduction(ctx: values.Context, value: str) -> cst.BaseExpression:
  for key in ('SUM', 'SUM_OVER_BATCH_SIZE', 'NONE', 'AUTO'):
    if getattr(tf.keras.losses.Reduction, key) == value:
      return cst.parse_expression(
          ctx.spell(f'tensorflow.keras.losses.Reduction.{key}')
      )
  raise errors.TranslationError(f'no tf.keras.losses.Reduction is {value!r}')


def translate_canned(
    ctx: values.Context, call: cst.Call, api: names.Api, exact: bool
) -> CallRewrite:
  """Rewrites a v1 canned-estimator construction as its v2 twin.

  Args:
    ctx: The file the call is in.
    call: The construction.
    api: What it constructs (`names.classify`).
    exact: Use the compat optimizers where Keras' class differs from v1.

  Returns:
    The new call, the optimizer variables' new values, and the edits.

  Raises:
    values.NotVisible: A value the translation needs is not in the source.
    TranslationError: The tables cannot translate it (e.g. an optimizer
      with no Keras counterpart).
  """
  row = estimators.lookup(api.name)
  v1_class = getattr(tf.compat.v1.estimator, api.name)
  bound = values.bind(inspect.signature(v1_class), call.args, api.name)
  standins: dict[str, Any] = {
      name: values.Opaque(ctx.code(arg.value)) for name, arg in bound.items()
  }
  found: dict[str, values.OptimizerSource] = {}
  notes: dict[str, str] = {}
  for arg in row.family.optimizer_args:
    given = bound.get(arg.name)
    found[arg.name] = values.find_optimizer(ctx, given.value if given else None)
    if found[arg.name].kind in ('literal', 'v1'):
      standins[arg.name] = found[arg.name].value
    elif found[arg.name].kind == 'keras':
      standins[arg.name] = 'SGD'  # translated, then left as it is
    for columns in (arg.string_cap_columns, arg.none_cap_columns):
      if columns and columns in bound:
        standins[columns] = values.columns(ctx, bound[columns].value)
        node = bound[columns].value
        source = found[arg.name]
        capped = (
            columns == arg.string_cap_columns
            and (source.kind == 'absent' or isinstance(source.value, str))
        ) or (
            columns == arg.none_cap_columns
            and source.kind == 'literal'
            and source.value is None
        )
        if source.kind == 'keras' and isinstance(
            standins[columns], values.Uncounted
        ):
          # A Keras optimizer is kept as it is: no rate is computed.
          standins[columns] = [values.Opaque('column')]
        elif (
            capped
            and isinstance(standins[columns], values.Uncounted)
            and values.countable(node)
        ):
          # v1 computes the rate from len(columns): write that expression.
          standins[columns] = [values.Opaque('column')]
          found[arg.name].computed[values.LEARNING_RATE] = _capped_rate(
              ctx, arg.string_lr, node
          )
  if 'loss_reduction' in bound:
    value = values.constant(ctx, bound['loss_reduction'].value)
    if not isinstance(value, str):
      raise values.NotVisible(
          f'loss_reduction `{ctx.code(bound["loss_reduction"].value)}` is'
          ' not a constant in this file'
      )
    v1_value = heads.v1_reduction_named(value)
    if v1_value is not None and names.is_v2(
        ctx.qualified(bound['loss_reduction'].value) or ''
    ):
      # tf_upgrade_v2 appends tf.keras.losses.Reduction.SUM to the v1 class,
      # which rejects it: read as the v1 reduction it meant.
      value = v1_value
      notes['loss_reduction'] = (
          (
              f'; the Keras reduction given to the v1 class (which rejects'
              f" it, as after tf_upgrade_v2) read as v1's {v1_value!r}"
          )
          if api.v1_only
          else (
              "; tf_upgrade_v2's loss_reduction=tf.keras.losses.Reduction.SUM"
              f" read as v1's {v1_value!r} on the v1 call it upgraded (its"
              " optimizers were v1's defaults; a v2 call passes a Keras"
              ' optimizer)'
          )
      )
    standins['loss_reduction'] = value
  head_values, head_replacements, head_edits = {}, {}, []
  if 'head' in bound:
    node = bound['head'].value
    held = ctx.assigned(node) if isinstance(node, cst.Name) else None
    source = held if held is not None else node
    if contrib_heads.factory(ctx, source):
      new_head, edit = contrib_heads.translate(ctx, source, ctx.line(source))
      head_edits.append(edit)
      standins['head'] = tf.estimator.RegressionHead()  # passed through
      if held is not None:
        head_replacements[held] = layout.fit(
            new_head, ctx.indent(held), ctx.column(held), ctx.indent(held)
        )
      else:
        head_values['head'] = new_head
    else:
      standins['head'] = _v2_head(ctx, source)
  if 'weight_column' in bound:
    value = values.literal(ctx, bound['weight_column'].value)
    standins['weight_column'] = None if value is None else 'weight'
  translation = canned.translate_canned_args(api.name, exact=exact, **standins)
  site = CallSite(ctx, call, api, row, bound, found, notes)
  rewrite = _apply(site, translation, head_values)
  return dataclasses.replace(
      rewrite,
      replacements={**rewrite.replacements, **head_replacements},
      edits=(*head_edits, *rewrite.edits),
  )


def _capped_rate(
    ctx: values.Context, rate: float, columns: cst.BaseExpression
) -> cst.BaseExpression:
  """`min(rate, 1 / math.sqrt(len(columns)))`, as v1 computes the default.

  tensorflow_estimator's `_linear_learning_rate` (DNNLinearCombined) and
  `_get_default_optimizer` (Linear) compute
  `min(rate, 1. / math.sqrt(len(feature_columns)))` from the argument.
  """
  sqrt = ctx.spell('math.sqrt')
  return cst.parse_expression(
      f'min({rate!r}, 1 / {sqrt}(len({ctx.code(columns).strip()})))'
  )


def _v2_head(
    ctx: values.Context, node: cst.BaseExpression
) -> tf.estimator.Head:
  """A stand-in for a v2 head the source constructs (which passes through).

  Raises:
    values.NotVisible: Not a v2 head built in this file: a v1 head must be
      translated with its attributes (`estimator_migrate.tables.heads`), at run time.
  """
  target = node.func if isinstance(node, cst.Call) else node
  qualified = ctx.qualified(target) or ''
  try:
    head_class = names.load(qualified) if qualified else None
  except LookupError:
    head_class = None
  if isinstance(head_class, type) and issubclass(head_class, tf.estimator.Head):
    return tf.estimator.RegressionHead()  # any v2 head: passed through
  raise values.NotVisible(
      f'head `{ctx.code(node)}` is not a v2 head constructed here; a v1 head'
      ' is translated at run time (--runtime_translate, or'
      ' estimator_migrate.tables.heads.translate_head)'
  )


def _apply(
    site: CallSite,
    translation: canned.Translation,
    extra_values: Mapping[str, cst.BaseExpression],
) -> CallRewrite:
  """Writes a translation back into the call's arguments.

  Args:
    site: The construction.
    translation: What `translate_canned_args` made of its arguments.
    extra_values: Argument -> new value decided before (a translated head).

  Returns:
    The new call, the optimizer variables' new values, and the edits: the
    optimizers', the loss reduction's, then the arguments removed.
  """
  changes = {c.argument: c for c in translation.changes}
  new_values = dict(extra_values)
  replacements: dict[cst.CSTNode, cst.CSTNode] = {}
  edits = []
  for arg in site.row.family.optimizer_args:
    if site.found[arg.name].kind == 'keras':
      continue
    new = _optimizer(
        site, arg.name, translation.kwargs[arg.name], changes[arg.name]
    )
    if new.replaces is not None:
      replacements[new.replaces] = new.value
    else:
      new_values[arg.name] = new.value
    edits.append(new.edit)
  if site.row.has_loss_reduction:
    new_values['loss_reduction'], edit = _loss_reduction(
        site, translation.kwargs['loss_reduction'], changes['loss_reduction']
    )
    edits.append(edit)
  removed, comments, removals = _removals(site)
  edits.extend(removals)
  new_call = _arguments(site.ctx, site.call, site.bound, new_values, removed)
  if site.api.v1_only:
    func = cst.parse_expression(
        site.ctx.spell(f'tensorflow.estimator.{site.api.name}')
    )
    new_call = new_call.with_changes(func=func)
  return CallRewrite(new_call, replacements, comments, tuple(edits))


def _optimizer(
    site: CallSite,
    name: str,
    plan: optimizers.OptimizerPlan,
    change: change_report.Change,
) -> _NewOptimizer:
  """The optimizer argument `name` written from its plan.

  A variable the call passes (`optimizer=opt`) gets the new value where it
  is assigned; an argument written in the call, or left out, gets it in the
  call.
  """
  ctx, source = site.ctx, site.found[name]
  given = name in site.bound
  variable = given and source.node is not site.bound[name].value
  new = _render_plan(ctx, plan, source, variable)
  before = ctx.code(source.node) if source.node is not None else ''
  if not given:
    before = f'(v1 default {change.old})'
  if variable:
    new = layout.fit(
        new,
        ctx.indent(source.node),
        ctx.column(source.node),
        ctx.indent(source.node),
    )
  exact, why = _optimizer_why(ctx, source, change)
  edit = _edit(
      name,
      ctx.line(source.node) if source.node is not None else ctx.line(site.call),
      before,
      cst.Module([]).code_for_node(new),
      exact,
      why,
  )
  return _NewOptimizer(new, source.node if variable else None, edit)


def _optimizer_why(
    ctx: values.Context,
    source: values.OptimizerSource,
    change: change_report.Change,
) -> tuple[bool, str]:
  """Whether an optimizer's rewrite is exact, and why, as its edit says."""
  exact, why = change.exact, change.why
  if source.carried:
    shown = ', '.join(f'{k}=`{ctx.code(v)}`' for k, v in source.carried.items())
    why += f'; carried as written: {shown}'
    if values.LEARNING_RATE in source.carried:
      exact = False
      why += (
          ' (exact when the learning rate is a number or a Keras'
          ' schedule; a v1 tensor must become a Keras schedule)'
      )
  if source.computed:
    columns = ctx.code(source.computed[values.LEARNING_RATE])
    why = (
        f"learning_rate={columns}: v1's default, written as v1 computes it"
        ' from the feature columns (their number is known when it runs;'
        ' the expression is evaluated when the optimizer is built)'
    )
  if source.dropped:
    why += (
        f'; dropped {", ".join(source.dropped)} (no Keras counterpart;'
        ' the checkpoint converter maps slot names)'
    )
  return exact, why


def _loss_reduction(
    site: CallSite, value: str, change: change_report.Change
) -> tuple[cst.BaseExpression, report.Edit]:
  """The Keras loss reduction as source, and its edit."""
  new = _reduction(site.ctx, value)
  given = site.bound.get('loss_reduction')
  edit = _edit(
      'loss_reduction',
      site.ctx.line(given) if given else site.ctx.line(site.call),
      site.ctx.code(given.value) if given else f'(v1 default {change.old})',
      cst.Module([]).code_for_node(new),
      change.exact,
      change.why + site.notes.get('loss_reduction', ''),
  )
  return new, edit


def _removals(
    site: CallSite,
) -> tuple[set[str], tuple[str, ...], tuple[report.Edit, ...]]:
  """The arguments taken out of the call, the comments and edits saying so.

  The partitioner is removed (v2 has none); a loss reduction tf_upgrade_v2
  appended is taken out to go last again, after the arguments made
  explicit, so the result is the rewrite of the original.
  """
  removed = set()
  bound = site.bound
  if (
      'loss_reduction' in site.notes
      and bound['loss_reduction'] is site.call.args[-1]
  ):
    removed.add('loss_reduction')
  partitioner = site.row.family.partitioner_arg
  if partitioner not in bound:
    return removed, (), ()
  removed.add(partitioner)
  edit = _edit(
      partitioner,
      site.ctx.line(bound[partitioner]),
      site.ctx.code(bound[partitioner].value),
      '(removed)',
      True,
      canned.PARTITIONER_ADVICE,
  )
  comment = f'{partitioner} removed: {canned.PARTITIONER_ADVICE}.'
  return removed, (comment,), (edit,)


def _arguments(
    ctx: values.Context,
    call: cst.Call,
    bound: Mapping[str, cst.Arg],
    new_values: Mapping[str, cst.BaseExpression],
    removed: set[str],
) -> cst.Call:
  """The call with its new argument values, laid out in 80 columns.

  A call with one argument per line keeps its layout, new arguments joining
  it; any other call is laid out again as pyink would.
  """
  new_values = dict(new_values)  # each is used once: popped, then the rest
  block = ctx.indent(call)
  one_per_line = len(call.args) >= 2 and all(
      isinstance(a.comma, cst.Comma)
      and isinstance(a.comma.whitespace_after, cst.ParenthesizedWhitespace)
      for a in call.args[:-1]
  )
  by_arg = {id(arg): name for name, arg in bound.items()}
  last_column = ctx.column(call.args[-1]) if call.args else block + 4
  args, origins = [], []
  for arg in call.args:
    name = by_arg.get(id(arg))
    if name in removed:
      continue
    origins.append(arg)
    if name in new_values:
      value = new_values.pop(name)
      if one_per_line:
        column = ctx.column(arg)
        value = layout.fit(value, column, column + len(name) + 1, block)
      arg = arg.with_changes(value=value)
    args.append(arg)
  for name, value in new_values.items():
    if one_per_line:
      value = layout.fit(value, last_column, last_column + len(name) + 1, block)
    args.append(_keyword(name, value))
    origins.append(None)
  if one_per_line:
    return call.with_changes(args=relayout(call.args, args, origins))
  return layout.reflow(call.with_changes(args=args), ctx.column(call), block)


def _width(node: cst.CSTNode) -> int:
  return len(cst.Module([]).code_for_node(node))


def runtime_call(
    ctx: values.Context, call: cst.Call, api: names.Api, exact: bool
):
  """The call as `make_v2_estimator('X', ...)`: translated when it runs."""
  v1_class = getattr(tf.compat.v1.estimator, api.name)
  signature = inspect.signature(v1_class)
  positional = [a for a in call.args if a.keyword is None and not a.star]
  if any(a.star == '*' for a in call.args):
    raise values.NotVisible(f'{api.name} takes *args, which cannot be named')
  names_in_order = list(signature.parameters)
  args = [cst.Arg(cst.SimpleString(repr(api.name)))]
  for arg in call.args:
    if arg.keyword is None and not arg.star:
      name = names_in_order[positional.index(arg)]
      arg = _keyword(name, arg.value)
    args.append(arg)
  if exact:
    args.append(_keyword('exact', cst.Name('True')))
  new = call.with_changes(func=cst.parse_expression(ctx.spell(RUNTIME_CALL)))
  return layout.reflow(
      new.with_changes(args=args), ctx.column(call), ctx.indent(call)
  )


def translate_model_to_estimator(
    ctx: values.Context, call: cst.Call, api: names.Api
) -> CallRewrite:
  """`model_to_estimator(...)` -> the toolkit's `to_estimator(...)`."""
  function = names.load(api.qualified)
  bound = values.bind(inspect.signature(function), call.args, api.name)
  if 'keras_model_path' in bound:
    raise errors.TranslationError(
        'keras_model_path=: to_estimator takes the model; pass'
        ' keras_model=tf.keras.models.load_model(path)'
    )
  by_arg = {id(arg): name for name, arg in bound.items()}
  args = []
  for i, arg in enumerate(call.args):
    if i > 0 and arg.keyword is None:
      arg = _keyword(by_arg[id(arg)], arg.value)
    args.append(arg)
  why = 'the same Estimator, with its late and silent failures checked first'
  default = inspect.signature(function).parameters['checkpoint_format'].default
  if 'checkpoint_format' not in bound and default != 'checkpoint':
    args.append(_keyword('checkpoint_format', cst.SimpleString(repr(default))))
    why += f"; v1's default checkpoint_format={default!r} made explicit"
  new = call.with_changes(func=cst.parse_expression(ctx.spell(TO_ESTIMATOR)))
  new = layout.reflow(
      new.with_changes(args=args), ctx.column(call), ctx.indent(call)
  )
  edit = _edit(
      api.name,
      ctx.line(call),
      ctx.code(call.func),
      cst.Module([]).code_for_node(new.func),
      True,
      why,
  )
  return CallRewrite(new, {}, (), (edit,))
