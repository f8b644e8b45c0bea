"""estimator_migrate: moves TF 1.x Estimator code and checkpoints to TF 2.

The package is laid out along the road, TF 1 -> TF 2 -> Keras 3:

  tables/       What v1 was: canned families, optimizers, heads, v1 update
                rules as Keras optimizers.
  tf2/          Into TF 2 (on TF 2.15): canned arguments translated
                (`canned`), Keras models as Estimators (`keras_estimator`,
                `model_fn`), side-by-side training, weight differences.
  checkpoints/  v1 checkpoints converted for v2 estimators: zero-copy,
                verified, fault-safe (`convert_optimizer_checkpoint`).
  rewrite/      v1 source rewritten as v2, with TensorFlow's upgrader.
  export/       Leaving Estimators (TF 2.15 side): a trained estimator
                written as a Keras 3 model directory.
  keras3/       Code that runs only on current TensorFlow and Keras 3: the
                generated model.py templates, the cluster `fit`.
  cluster/      A loopback TF cluster with faults, and what its tasks run.
  guide/        The migration guide's sample model, training loops and the
                embedded data sets (examples, benchmarks and tests use them).
  demo/         The end-to-end demo: a TF1 project taken all the way.
  cli/          Every binary, and the console convention they share.
  errors, report  MigrationError and its subclasses; change tables.

Import the module you need from its folder, e.g.
`from estimator_migrate.tf2 import canned`. Import paths from before 0.2
(`estimator_migrate.canned`, ...) still work and warn: see CHANGELOG.md.
"""

from estimator_migrate import _moved

__version__ = '0.4.1'

_moved.install()
