"""Keras (legacy) optimizers that reproduce v1 optimizers bit for bit.

Keras' own classes differ from v1 where it matters for a migration:
- RMSprop: v1 starts the `rms` slot at ones and divides by sqrt(ms + eps);
  Keras starts it at zeros and, with momentum 0, divides by sqrt(ms) + eps.
- SGD with momentum keeps `-lr * accumulator` in its slot; under a changing
  learning rate that is not v1's update.
`RMSPropV1` and `MomentumV1` run v1's own kernels (ApplyRMSProp,
ApplyCenteredRMSProp, ApplyMomentum) with v1's slot initialisation, so
training continues exactly as a v1 optimizer would, and their slots hold the
values the v1 slots hold (the checkpoint converter copies them unchanged).

Example:
  optimizer = compat_optimizers.RMSPropV1(learning_rate=0.01, rho=0.9)
"""

import tensorflow as tf

_LegacyOptimizer = tf.keras.optimizers.legacy.Optimizer


def _coefficients(optimizer, var, apply_state):
  """The per-device coefficients Keras prepared for `var` (lr_t etc.)."""
  key = (var.device, var.dtype.base_dtype)
  return (apply_state or {}).get(key) or optimizer._fallback_apply_state(*key)


class _V1Kernels(_LegacyOptimizer):
  """Applies updates with a v1 optimizer's own training kernels.

  Subclasses name the (dense, sparse) raw ops in `_kernels` and build their
  arguments in `_kernel_args`.
  """

  _HAS_AGGREGATE_GRAD = True

  def _kernels(self):
    raise NotImplementedError

  def _kernel_args(self, grad, var, apply_state) -> dict:
    raise NotImplementedError

  def _resource_apply_dense(self, grad, var, apply_state=None):
    dense, _ = self._kernels()
    return dense(**self._kernel_args(grad, var, apply_state))

  def _resource_apply_sparse(self, grad, var, indices, apply_state=None):
    _, sparse = self._kernels()
    return sparse(indices=indices, **self._kernel_args(grad, var, apply_state))


class RMSPropV1(_V1Kernels):
  """`tf.compat.v1.train.RMSPropOptimizer` as a Keras legacy optimizer.

  Slots: `rms` (starts at ones), `momentum` (always, as in v1) and `mg`
  (centered only). v1's `decay` argument is `rho` here, since Keras reserves
  `decay` for learning-rate time decay.
  """

  def __init__(
      self,
      learning_rate=0.001,
      rho: float = 0.9,
      momentum: float = 0.0,
      epsilon: float = 1e-10,
      centered: bool = False,
      name: str = 'RMSPropV1',
      **kwargs,
  ):
    super().__init__(name, **kwargs)
    self._set_hyper('learning_rate', kwargs.get('lr', learning_rate))
    self._set_hyper('decay', self._initial_decay)
    self._set_hyper('rho', rho)
    self._set_hyper('momentum', momentum)
    self.epsilon = epsilon
    self.centered = centered

  def _create_slots(self, var_list):
    for var in var_list:
      self.add_slot(var, 'rms', initializer='ones')
    for var in var_list:
      self.add_slot(var, 'momentum')
    if self.centered:
      for var in var_list:
        self.add_slot(var, 'mg')

  def _prepare_local(self, var_device, var_dtype, apply_state):
    super()._prepare_local(var_device, var_dtype, apply_state)
    apply_state[(var_device, var_dtype)].update(
        rho=tf.identity(self._get_hyper('rho', var_dtype)),
        momentum=tf.identity(self._get_hyper('momentum', var_dtype)),
        epsilon=tf.convert_to_tensor(self.epsilon, var_dtype),
    )

  def _kernel_args(self, grad, var, apply_state):
    coefficients = _coefficients(self, var, apply_state)
    args = dict(
        var=var.handle,
        ms=self.get_slot(var, 'rms').handle,
        mom=self.get_slot(var, 'momentum').handle,
        lr=coefficients['lr_t'],
        rho=coefficients['rho'],
        momentum=coefficients['momentum'],
        epsilon=coefficients['epsilon'],
        grad=grad,
        use_locking=self._use_locking,
    )
    if self.centered:
      args['mg'] = self.get_slot(var, 'mg').handle
    return args

  def _kernels(self):
    if self.centered:
      return (
          tf.raw_ops.ResourceApplyCenteredRMSProp,
          tf.raw_ops.ResourceSparseApplyCenteredRMSProp,
      )
    return (
        tf.raw_ops.ResourceApplyRMSProp,
        tf.raw_ops.ResourceSparseApplyRMSProp,
    )

  def get_config(self):
    config = super().get_config()
    config.update(
        learning_rate=self._serialize_hyperparameter('learning_rate'),
        decay=self._initial_decay,
        rho=self._serialize_hyperparameter('rho'),
        momentum=self._serialize_hyperparameter('momentum'),
        epsilon=self.epsilon,
        centered=self.centered,
    )
    return config


class MomentumV1(_V1Kernels):
  """`tf.compat.v1.train.MomentumOptimizer` as a Keras legacy optimizer.

  Its `momentum` slot is v1's accumulator (`accum = m * accum + g;
  var -= lr * accum`, or the Nesterov form), so it is exact under any
  learning-rate schedule, where Keras SGD's `-lr`-scaled slot is not.
  """

  def __init__(
      self,
      learning_rate=0.01,
      momentum: float = 0.9,
      use_nesterov: bool = False,
      name: str = 'MomentumV1',
      **kwargs,
  ):
    super().__init__(name, **kwargs)
    self._set_hyper('learning_rate', kwargs.get('lr', learning_rate))
    self._set_hyper('decay', self._initial_decay)
    self._set_hyper('momentum', momentum)
    self.use_nesterov = use_nesterov

  def _create_slots(self, var_list):
    for var in var_list:
      self.add_slot(var, 'momentum')

  def _prepare_local(self, var_device, var_dtype, apply_state):
    super()._prepare_local(var_device, var_dtype, apply_state)
    apply_state[(var_device, var_dtype)]['momentum'] = tf.identity(
        self._get_hyper('momentum', var_dtype)
    )

  def _kernel_args(self, grad, var, apply_state):
    coefficients = _coefficients(self, var, apply_state)
    return dict(
        var=var.handle,
        accum=self.get_slot(var, 'momentum').handle,
        lr=coefficients['lr_t'],
        grad=grad,
        momentum=coefficients['momentum'],
        use_locking=self._use_locking,
        use_nesterov=self.use_nesterov,
    )

  def _kernels(self):
    return (
        tf.raw_ops.ResourceApplyMomentum,
        tf.raw_ops.ResourceSparseApplyMomentum,
    )

  def get_config(self):
    config = super().get_config()
    config.update(
        learning_rate=self._serialize_hyperparameter('learning_rate'),
        decay=self._initial_decay,
        momentum=self._serialize_hyperparameter('momentum'),
        use_nesterov=self.use_nesterov,
    )
    return config


class AdagradV1(_V1Kernels):
  """`tf.compat.v1.train.AdagradOptimizer` as a Keras legacy optimizer.

  Runs v1's ApplyAdagrad kernel (`var -= lr * grad * rsqrt(accum)`), where
  Keras' Adagrad runs ApplyAdagradV2 (`lr * grad / (sqrt(accum) + eps)`, and
  it cannot take eps = 0): the same math, different rounding.
  """

  def __init__(
      self,
      learning_rate=0.001,
      initial_accumulator_value: float = 0.1,
      name: str = 'AdagradV1',
      **kwargs,
  ):
    super().__init__(name, **kwargs)
    self._set_hyper('learning_rate', kwargs.get('lr', learning_rate))
    self._set_hyper('decay', self._initial_decay)
    self._initial_accumulator_value = initial_accumulator_value

  def _create_slots(self, var_list):
    init = tf.keras.initializers.Constant(self._initial_accumulator_value)
    for var in var_list:
      self.add_slot(var, 'accumulator', init)

  def _kernel_args(self, grad, var, apply_state):
    return dict(
        var=var.handle,
        accum=self.get_slot(var, 'accumulator').handle,
        lr=_coefficients(self, var, apply_state)['lr_t'],
        grad=grad,
        use_locking=self._use_locking,
        update_slots=True,
    )

  def _kernels(self):
    return (
        tf.raw_ops.ResourceApplyAdagrad,
        tf.raw_ops.ResourceSparseApplyAdagrad,
    )

  def get_config(self):
    config = super().get_config()
    config.update(
        learning_rate=self._serialize_hyperparameter('learning_rate'),
        decay=self._initial_decay,
        initial_accumulator_value=self._initial_accumulator_value,
    )
    return config
