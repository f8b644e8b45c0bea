"""THE v1 <-> Keras optimizer table, and the translation built on it.

Each row says, for one `tf.compat.v1.train` optimizer, which Keras legacy
class trains the same way, how every hyperparameter carries over (v1 keeps
them as private attributes, stable in TF 2.15), how slots map, and whether
the translation is exact. The canned-estimator translator, the checkpoint
converter and every flag's choices read this one table.

Example:
  keras_opt = optimizers.translate_optimizer(
      tf.compat.v1.train.AdamOptimizer(0.01))   # epsilon 1e-8 carried over
"""

from collections.abc import Mapping, Sequence
import dataclasses
import functools
import math
import types
from typing import Any

import tensorflow as tf

from estimator_migrate import errors
from estimator_migrate.tables import compat_optimizers
from estimator_migrate.tables import estimators


@dataclasses.dataclass(frozen=True)
class Hyper:
  """A hyperparameter: v1 attribute and argument, Keras argument, defaults.

  `v1_attr=None` marks a Keras argument that has no v1 counterpart and is set
  to `fixed` so that Keras computes what v1 did (Adagrad's epsilon = 0); the
  compat classes, which run v1's kernels, take no such argument.
  `v1_default` / `keras_default` are the constructors' defaults (None: the
  v1 argument is required); tests/optimizer_signatures_test.py checks them.
  """

  v1_attr: str | None
  keras: str
  v1_default: Any = None
  keras_default: Any = None
  fixed: Any = None
  # The constant v1's _prepare() names in the graph, under the optimizer's
  # name scope (Ftrl's l2 enters `l2 + beta / (2 lr)` as the `add` op's x).
  graph: str | None = None
  # A bool read from the graph's update ops instead: true when they run the
  # v1 kernel `kernel` (in any Resource/Sparse form) and, with `kernel_attr`,
  # that op attribute is set (centered RMSProp, Nesterov momentum).
  kernel: str | None = None
  kernel_attr: str | None = None
  # The v1 constructor argument that sets `v1_attr`, where its name is not
  # `v1_attr` without the underscore (Adam's `_lr` is set by learning_rate).
  v1_arg: str | None = None
  # The compat class's argument, where its name is not `keras`.
  compat: str | None = None
  # The Keras class takes this argument only when that config entry is
  # truthy (SGD's nesterov needs momentum > 0).
  keras_present_if: str | None = None

  @property
  def v1_argument(self) -> str | None:
    """The v1 constructor's argument for this hyperparameter, if any."""
    if self.v1_attr is None:
      return None
    return self.v1_arg or self.v1_attr.lstrip('_')

  @property
  def compat_argument(self) -> str | None:
    """The compat class's argument (none for a Keras-only fixed value)."""
    if self.v1_attr is None:
      return None
    return self.compat or self.keras


@dataclasses.dataclass(frozen=True)
class Slot:
  """A v1 slot and the Keras slot it becomes.

  Rows list slots in v1's creation order: v1 names the i-th present slot of
  a variable `<var>/<Opt>` for i = 0 and `<var>/<Opt>_<i>` after.
  `scale_by_neg_lr`: Keras SGD keeps -lr * v1's accumulator:
  v_keras = -lr * accum_v1. `v1_present_if` / `keras_present_if` name the
  config entry without which v1 / Keras creates no such slot (RMSprop's `mg`
  exists only when centered; Keras' `momentum` only when momentum > 0).
  A compat class keeps exactly v1's slots, unscaled: `keras_present_if` and
  `scale_by_neg_lr` are facts of the Keras class only.
  """

  v1: str
  keras: str
  scale_by_neg_lr: bool = False
  v1_present_if: str | None = None
  keras_present_if: str | None = None


@dataclasses.dataclass(frozen=True)
class OptimizerRow:
  """One v1 optimizer and its Keras translation."""

  # The v1 optimizer's default name, the suffix of its slot names
  # (<var>/<v1_name>[_N]); its class is tf.compat.v1.train.<v1_name>Optimizer.
  v1_name: str
  keras_class: str  # tf.keras.optimizers.legacy.<keras_class>
  hypers: tuple[Hyper, ...]
  slots: tuple[Slot, ...]
  exact: bool  # Keras' class computes v1's update (float rounding aside)
  note: str
  compat_class: str | None = None  # compat_optimizers.<compat_class>
  canned_string: str | None = None  # name canned estimators accept

  @property
  def v1_class(self) -> str:
    return f'{self.v1_name}Optimizer'

  @property
  def keras_needs_constant_lr(self) -> bool:
    """Keras keeps a slot scaled by -lr: equal to v1's under a constant rate."""
    return any(slot.scale_by_neg_lr for slot in self.slots)


_LR = 'learning_rate'


def _rate(
    keras_default: float,
    *,
    v1_default: float | None = None,
    v1_attr: str = '_learning_rate',
    graph: str = _LR,
) -> Hyper:
  """The learning rate: v1's `learning_rate` argument, a graph constant."""
  return Hyper(v1_attr, _LR, v1_default, keras_default, graph=graph, v1_arg=_LR)


OPTIMIZERS: types.MappingProxyType[str, OptimizerRow] = types.MappingProxyType(
    {
        row.v1_class: row
        for row in (
            OptimizerRow(
                'GradientDescent',
                'SGD',
                (_rate(0.01),),
                (),
                exact=True,
                note='same kernel (ApplyGradientDescent)',
                canned_string='SGD',
            ),
            OptimizerRow(
                'Momentum',
                'SGD',
                (
                    _rate(0.01),
                    Hyper('_momentum', 'momentum', None, 0.0, graph='momentum'),
                    # An attribute of the ApplyMomentum op, not a constant.
                    Hyper(
                        '_use_nesterov',
                        'nesterov',
                        False,
                        False,
                        kernel='ApplyMomentum',
                        kernel_attr='use_nesterov',
                        compat='use_nesterov',
                        keras_present_if='momentum',
                    ),
                ),
                (Slot('momentum', 'momentum', scale_by_neg_lr=True),),
                exact=True,
                note=(
                    'Keras SGD keeps -lr * the v1 accumulator: equal for a constant'
                    ' learning rate, not under a schedule (use exact=True)'
                ),
                compat_class='MomentumV1',
            ),
            OptimizerRow(
                'Adam',
                'Adam',
                (
                    _rate(0.001, v1_default=0.001, v1_attr='_lr'),
                    Hyper('_beta1', 'beta_1', 0.9, 0.9, graph='beta1'),
                    Hyper('_beta2', 'beta_2', 0.999, 0.999, graph='beta2'),
                    Hyper('_epsilon', 'epsilon', 1e-8, 1e-7, graph='epsilon'),
                ),
                (Slot('m', 'm'), Slot('v', 'v')),
                exact=True,
                note='same kernel (ApplyAdam); epsilon 1e-8 carried (Keras 1e-7)',
                canned_string='Adam',
            ),
            OptimizerRow(
                'Adagrad',
                'Adagrad',
                (
                    _rate(0.001),
                    # Only new slots use it: a slot initializer, not a constant.
                    Hyper(
                        '_initial_accumulator_value',
                        'initial_accumulator_value',
                        0.1,
                        0.1,
                    ),
                    # v1 has no epsilon. Keras replaces 0 by 1e-7
                    # (`epsilon or 1e-7`); 1e-30 vanishes in float32 next to
                    # sqrt(accumulator) >= sqrt(initial_accumulator_value) > 0.
                    Hyper(None, 'epsilon', None, 1e-7, fixed=1e-30),
                ),
                (Slot('accumulator', 'accumulator'),),
                exact=True,
                note=(
                    'Keras computes lr*g/sqrt(acc), v1 lr*g*rsqrt(acc): the same'
                    ' math, rounding apart (exact=True uses AdagradV1)'
                ),
                compat_class='AdagradV1',
                canned_string='Adagrad',
            ),
            OptimizerRow(
                'Adadelta',
                'Adadelta',
                (
                    _rate(0.001, v1_default=0.001, v1_attr='_lr', graph='lr'),
                    Hyper('_rho', 'rho', 0.95, 0.95, graph='rho'),
                    Hyper('_epsilon', 'epsilon', 1e-8, 1e-7, graph='epsilon'),
                ),
                (
                    Slot('accum', 'accum_grad'),
                    Slot('accum_update', 'accum_var'),
                ),
                exact=True,
                note='same kernel (ApplyAdadelta); epsilon 1e-8 carried (Keras 1e-7)',
            ),
            OptimizerRow(
                'RMSProp',
                'RMSprop',
                (
                    _rate(0.001),
                    Hyper('_decay', 'rho', 0.9, 0.9, graph='decay'),
                    Hyper('_momentum', 'momentum', 0.0, 0.0, graph='momentum'),
                    Hyper('_epsilon', 'epsilon', 1e-10, 1e-7, graph='epsilon'),
                    # Centered RMSProp runs its own kernel.
                    Hyper(
                        '_centered',
                        'centered',
                        False,
                        False,
                        kernel='ApplyCenteredRMSProp',
                    ),
                ),
                (
                    Slot('rms', 'rms'),
                    Slot(
                        'mg',
                        'mg',
                        v1_present_if='centered',
                        keras_present_if='centered',
                    ),
                    Slot('momentum', 'momentum', keras_present_if='momentum'),
                ),
                exact=False,
                note=(
                    'Keras starts rms at 0 (v1: 1) and, with momentum 0, divides by'
                    ' sqrt(ms) + eps (v1: sqrt(ms + eps)); exact=True uses RMSPropV1'
                ),
                compat_class='RMSPropV1',
                canned_string='RMSProp',
            ),
            OptimizerRow(
                'Ftrl',
                'Ftrl',
                (
                    _rate(0.001),
                    Hyper(
                        '_learning_rate_power',
                        'learning_rate_power',
                        -0.5,
                        -0.5,
                        graph='learning_rate_power',
                    ),
                    Hyper(
                        '_initial_accumulator_value',
                        'initial_accumulator_value',
                        0.1,
                        0.1,
                    ),
                    Hyper(
                        '_l1_regularization_strength',
                        'l1_regularization_strength',
                        0.0,
                        0.0,
                        graph='l1_regularization_strength',
                    ),
                    Hyper(
                        '_l2_regularization_strength',
                        'l2_regularization_strength',
                        0.0,
                        0.0,
                        graph='add/x',
                    ),
                    Hyper(
                        '_l2_shrinkage_regularization_strength',
                        'l2_shrinkage_regularization_strength',
                        0.0,
                        0.0,
                        graph='l2_shrinkage_regularization_strength',
                    ),
                    # v1 stores beta=None as 0.0, Keras' default.
                    Hyper('_beta', 'beta', None, 0.0, graph='beta'),
                ),
                (Slot('accum', 'accumulator'), Slot('linear', 'linear')),
                exact=True,
                note='same kernels (ApplyFtrl / ApplyFtrlV2 with shrinkage)',
                canned_string='Ftrl',
            ),
        )
    }
)

# v1 optimizers with no Keras counterpart, and why.
UNSUPPORTED: types.MappingProxyType[str, str] = types.MappingProxyType(
    {
        'ProximalAdagradOptimizer': 'Keras has no proximal Adagrad',
        'ProximalGradientDescentOptimizer': 'Keras has no proximal SGD',
        'AdagradDAOptimizer': 'Keras has no Adagrad dual averaging',
        'SyncReplicasOptimizer': (
            'use a tf.distribute strategy instead of a wrapping optimizer'
        ),
    }
)

# Names canned estimators accept for an optimizer (v1 and v2 alike).
CANNED_STRINGS: types.MappingProxyType[str, str] = types.MappingProxyType(
    {
        row.canned_string: row.v1_class
        for row in OPTIMIZERS.values()
        if row.canned_string
    }
)


@dataclasses.dataclass(frozen=True)
class SlotPair:
  """One v1 slot of a variable, its checkpoint keys, and its Keras slot.

  `keys` are the checkpoint entries (each with a `.name`) that hold the v1
  slot: one, or one per partition. `keras` is None when the Keras optimizer keeps no such slot (`dropped`
  says why); otherwise the Keras slot holds `scale` * the v1 values (scale
  None: the same values).
  """

  slot: Slot
  keys: tuple[Any, ...]
  keras: str | None
  scale: float | None = None
  dropped: str | None = None


@dataclasses.dataclass(frozen=True)
class OptimizerPlan:
  """A translated optimizer: which Keras class, with which arguments.

  Calling the plan builds a fresh optimizer; canned v2 estimators accept it as
  a callable, so every graph the Estimator builds gets its own optimizer.
  """

  row: OptimizerRow
  keras_class: str
  config: Mapping[str, Any]
  exact: bool
  notes: tuple[str, ...]

  @property
  def v1_slots(self) -> tuple[Slot, ...]:
    """The slots v1 keeps with this configuration, in its creation order."""
    return tuple(
        s
        for s in self.row.slots
        if s.v1_present_if is None or self.config.get(s.v1_present_if)
    )

  @property
  def keras_name(self) -> str:
    """The Keras optimizer's name: the scope of its slot variables.

    `<keras_name>/<var>/<slot>` in a `make_model_fn` graph; canned v2
    estimators put it under `training/` and uniquify it (`Adam_1`).
    """
    return self.build().get_config()['name']

  def pair_slots(
      self, var: str, found: Sequence[Sequence[Any]]
  ) -> tuple[SlotPair, ...]:
    """Pairs a variable's v1 slots, found in index order, with Keras slots.

    Args:
      var: The model variable (for the error message).
      found: The checkpoint keys (each with a `.name`) of each v1 slot of
        `var`, in slot-index order (`roles.Layout.slot_groups`).

    Returns:
      One pair per v1 slot this configuration keeps.

    Raises:
      CheckpointError: `found` does not have one entry per v1 slot.
    """
    wanted = self.v1_slots
    if len(found) != len(wanted):
      raise errors.CheckpointError(
          f'{var} has {len(found)} slot(s)'
          f' {[k.name for keys in found for k in keys]}, but'
          f' {self.row.v1_class} keeps {[s.v1 for s in wanted]}. Pass the'
          ' optimizer explicitly if it was detected wrongly.'
      )
    pairs = []
    for slot, keys in zip(wanted, found, strict=True):
      condition = None if self.is_compat else slot.keras_present_if
      if condition and not self.config.get(condition):
        pairs.append(
            SlotPair(
                slot,
                tuple(keys),
                None,
                dropped=(
                    f'{self.keras_class} keeps no {slot.keras} slot with'
                    f' {condition}={self.config.get(condition)!r}'
                ),
            )
        )
        continue
      scale = None
      if slot.scale_by_neg_lr and not self.is_compat:
        scale = -float(self.config[_LR])
      pairs.append(SlotPair(slot, tuple(keys), slot.keras, scale))
    return tuple(pairs)

  @property
  def is_compat(self) -> bool:
    return self.keras_class == self.row.compat_class

  @property
  def qualified_class(self) -> str:
    """The class `build` uses, as source spells it (for rewritten code)."""
    if self.is_compat:
      return f'estimator_migrate.tables.compat_optimizers.{self.keras_class}'
    return f'tensorflow.keras.optimizers.legacy.{self.keras_class}'

  def build(self) -> tf.keras.optimizers.legacy.Optimizer:
    if self.is_compat:
      cls = getattr(compat_optimizers, self.keras_class)
    else:
      cls = getattr(tf.keras.optimizers.legacy, self.keras_class)
    return cls(**self.config)

  __call__ = build

  def describe(self) -> str:
    args = ', '.join(f'{k}={_show(v)}' for k, v in self.config.items())
    return f'{self.keras_class}({args})'


def _show(value: Any) -> str:
  if isinstance(value, tf.keras.optimizers.schedules.LearningRateSchedule):
    return f'{type(value).__name__}({value.get_config()})'
  return repr(value)


def _learning_rate(value: Any, where: str) -> Any:
  """A v1 learning rate as Keras takes it: a float or a Keras schedule."""
  if isinstance(value, tf.keras.optimizers.schedules.LearningRateSchedule):
    return value
  # Eager tf.compat.v1.train.*_decay returns partial(schedule, global_step),
  # the schedule being TF's internal copy of a Keras schedule class. Keras
  # evaluates a schedule at optimizer.iterations, which canned v2 estimators
  # tie to the global step: the same learning rate at every step.
  if isinstance(value, functools.partial) and hasattr(value.func, 'get_config'):
    keras_class = getattr(
        tf.keras.optimizers.schedules, type(value.func).__name__, None
    )
    if keras_class is not None:
      return keras_class.from_config(value.func.get_config())
  if isinstance(value, (int, float)) and not isinstance(value, bool):
    return float(value)
  raise errors.TranslationError(
      f'{where}: learning rate {value!r} is a graph tensor or callable whose'
      ' schedule cannot be read. Pass the equivalent Keras schedule as'
      ' learning_rate=tf.keras.optimizers.schedules.ExponentialDecay(...)'
      ' (or another schedule).'
  )


def _string_learning_rate(
    name: str,
    estimator: str | None,
    argument: str | None,
    feature_columns: Any,
) -> float:
  if estimator is None:
    raise errors.TranslationError(
        f'optimizer {name!r} is a string: give learning_rate=, or estimator='
        " so that the v1 estimator's default learning rate applies.",
        argument=('learning_rate', 'estimator'),
    )
  row = estimators.lookup(estimator)
  arg = row.optimizer_arg(argument or row.family.optimizer_args[0].name)
  if arg.string_cap_columns:
    if feature_columns is None:
      raise errors.TranslationError(
          f'{row.name}.{arg.name}={name!r}: v1 uses min({arg.string_lr},'
          f' 1/sqrt(len({arg.string_cap_columns}))); pass feature_columns='
          f'{arg.string_cap_columns}.'
      )
    return estimators.capped_learning_rate(arg.string_lr, feature_columns)
  return arg.string_lr


def v1_optimizer_from_string(
    name: str,
    *,
    learning_rate: float | None = None,
    estimator: str | None = None,
    argument: str | None = None,
    feature_columns: Any = None,
) -> tf.compat.v1.train.Optimizer:
  """Builds the v1 optimizer a canned v1 estimator makes of a string."""
  if name not in CANNED_STRINGS:
    raise errors.TranslationError(
        f'optimizer {name!r} is not a name canned estimators accept:'
        f' {sorted(CANNED_STRINGS)}.'
    )
  if learning_rate is None:
    learning_rate = _string_learning_rate(
        name, estimator, argument, feature_columns
    )
  elif not (
      isinstance(learning_rate, (int, float))
      and math.isfinite(learning_rate)
      and learning_rate > 0
  ):
    raise errors.TranslationError(
        f'learning_rate={learning_rate!r} for {name}: give a finite number'
        ' greater than 0.',
        argument='learning_rate',
    )
  return getattr(tf.compat.v1.train, CANNED_STRINGS[name])(
      learning_rate=learning_rate
  )


def plan_optimizer(
    optimizer: Any,
    *,
    learning_rate: Any = None,
    estimator: str | None = None,
    argument: str | None = None,
    feature_columns: Any = None,
    exact: bool = False,
) -> OptimizerPlan:
  """Plans the Keras legacy optimizer that trains as a v1 optimizer does.

  Args:
    optimizer: A `tf.compat.v1.train.*Optimizer`, a name canned estimators
      accept (`'Adagrad'`, `'Adam'`, `'Ftrl'`, `'RMSProp'`, `'SGD'`), or a
      Keras legacy optimizer (returned as it is).
    learning_rate: Overrides the learning rate; a float or a Keras schedule.
    estimator: Canned estimator name, whose v1 default learning rate a string
      optimizer gets (DNN 0.05, Linear 0.2, combined 0.001 / min(0.005,
      1/sqrt(n)), Baseline 0.3).
    argument: Which optimizer argument of `estimator` (combined models have
      `dnn_optimizer` and `linear_optimizer`); default its first.
    feature_columns: The columns whose count caps a combined model's linear
      learning rate.
    exact: Use the compat optimizers (`RMSPropV1`, `MomentumV1`,
      `AdagradV1`), which run v1's own kernels, where Keras' class differs.

  Returns:
    The plan; `plan.build()` (or `plan()`) makes the optimizer.

  Raises:
    TranslationError: No Keras counterpart, an unknown name, or a learning
      rate that cannot be read.
  """
  if isinstance(optimizer, OptimizerPlan):
    return optimizer
  if isinstance(optimizer, str):
    optimizer = v1_optimizer_from_string(
        optimizer,
        learning_rate=learning_rate,
        estimator=estimator,
        argument=argument,
        feature_columns=feature_columns,
    )
  if isinstance(optimizer, tf.keras.optimizers.legacy.Optimizer):
    raise errors.TranslationError(
        f'{type(optimizer).__name__} is already a Keras legacy optimizer;'
        ' pass it to the v2 estimator unchanged.'
    )
  if not isinstance(optimizer, tf.compat.v1.train.Optimizer):
    raise errors.TranslationError(
        f'optimizer {optimizer!r} is neither a tf.compat.v1.train optimizer'
        f' nor a name in {sorted(CANNED_STRINGS)}.'
    )
  class_name = type(optimizer).__name__
  if class_name in UNSUPPORTED:
    raise errors.TranslationError(
        f'{class_name} has no Keras counterpart ({UNSUPPORTED[class_name]}).'
        f' Translatable: {sorted(OPTIMIZERS)}.'
    )
  row = OPTIMIZERS.get(class_name)
  if row is None or type(optimizer) is not getattr(
      tf.compat.v1.train, class_name
  ):
    raise errors.TranslationError(
        f'{class_name} is not a stock tf.compat.v1.train optimizer, so its'
        f' update rule is unknown. Translatable: {sorted(OPTIMIZERS)}.'
    )
  return _plan_row(row, optimizer, learning_rate, exact)


def _plan_row(row, optimizer, learning_rate, exact) -> OptimizerPlan:
  config: dict[str, Any] = {}
  notes = []
  for hyper in row.hypers:
    if hyper.v1_attr is None:
      config[hyper.keras] = hyper.fixed
      notes.append(
          f'{hyper.keras}={hyper.fixed!r} (Keras default'
          f" {hyper.keras_default!r}) to compute v1's update"
      )
      continue
    value = getattr(optimizer, hyper.v1_attr)
    if hyper.keras == _LR:
      value = _learning_rate(
          value if learning_rate is None else learning_rate, row.v1_class
      )
    config[hyper.keras] = value
    if value != hyper.keras_default and hyper.keras != _LR:
      notes.append(
          f'{hyper.keras}={value!r} (Keras default {hyper.keras_default!r})'
      )
  scheduled = not isinstance(config[_LR], float)
  use_compat = row.compat_class is not None and (
      exact or (scheduled and row.keras_needs_constant_lr)
  )
  if use_compat:
    config = {
        h.compat_argument: config[h.keras]
        for h in row.hypers
        if h.compat_argument
    }
    if not exact:
      notes.append(
          f'{row.compat_class}: a schedule makes Keras {row.keras_class}'
          ' differ from v1'
      )
    return OptimizerPlan(
        row,
        row.compat_class,
        types.MappingProxyType(config),
        True,
        tuple(notes),
    )
  for hyper in row.hypers:
    if hyper.keras_present_if and not config[hyper.keras_present_if]:
      config.pop(hyper.keras)
  notes.append(row.note)
  return OptimizerPlan(
      row,
      row.keras_class,
      types.MappingProxyType(config),
      row.exact,
      tuple(notes),
  )


def translate_optimizer(
    optimizer: Any, **options: Any
) -> tf.keras.optimizers.legacy.Optimizer:
  """Returns a Keras legacy optimizer that trains as `optimizer` (v1) does.

  Takes `plan_optimizer`'s arguments (`learning_rate=`, `estimator=`,
  `argument=`, `feature_columns=`, `exact=`).

  Example:
    translate_optimizer(tf.compat.v1.train.MomentumOptimizer(0.1, 0.9))
    # -> SGD(learning_rate=0.1, momentum=0.9, nesterov=False)
    translate_optimizer('Adagrad', estimator='DNNClassifier')
    # -> Adagrad(learning_rate=0.05, initial_accumulator_value=0.1,
    #            epsilon=1e-30)
  """
  return plan_optimizer(optimizer, **options).build()


def describe_v1(optimizer: Any) -> str:
  """`AdamOptimizer(learning_rate=0.01, ...)` for a v1 optimizer or name."""
  if isinstance(optimizer, str):
    return repr(optimizer)
  row = OPTIMIZERS.get(type(optimizer).__name__)
  if row is None:
    return type(optimizer).__name__
  args = ', '.join(
      f'{h.v1_argument}={getattr(optimizer, h.v1_attr)!r}'
      for h in row.hypers
      if h.v1_attr
  )
  return f'{row.v1_class}({args})'
