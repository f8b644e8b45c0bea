"""estimator_migrate: moves TF 1.x Estimator code and checkpoints to TF 2.

Modules (import the one you need; each is small and named for what it does):
  data        TFDS loading and Estimator input_fns; the embedded default set.
  models      The migration guide's CNN.
  training    The guide's three TF2 training loops.
  errors      MigrationError and its subclasses.
"""

__version__ = '0.1.0'
