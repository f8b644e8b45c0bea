"""estimator_migrate: moves TF 1.x Estimator code and checkpoints to TF 2.

Modules (import the one you need; each is small and named for what it does):
  keras_estimator  to_estimator, check_input_fn: Keras models as Estimators.
  model_fn         make_model_fn: the guide's custom model_fn, done once.
  canned           translate_canned_args, make_v2_estimator.
  optimizers       THE v1 <-> Keras optimizer table; translate_optimizer.
  estimators       THE canned-estimator table (families, v1 defaults).
  heads            THE v1 -> v2 head table and loss reductions; translate_head.
  compat_optimizers  RMSPropV1, MomentumV1, AdagradV1 (v1's own kernels).
  side_by_side     train a v1 canned estimator beside its translation.
  checkpoints      convert_optimizer_checkpoint, inspect, assignment_map.
  rewrite          rewrite v1 canned-estimator source as v2 (libcst).
  data             TFDS loading and Estimator input_fns; the embedded set.
  models, training The guide's CNN and its three TF2 training loops.
  report, errors   Change tables; MigrationError and its subclasses.
"""

__version__ = '0.1.0'
