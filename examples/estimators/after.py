r"""TF2 style: the translated v2 estimator under train_and_evaluate.

estimator_migrate.tf2.canned.make_v2_estimator turns the v1 arguments into v2
ones (the Adagrad optimizer, loss_reduction=SUM made explicit), and
tf.estimator.train_and_evaluate runs TrainSpec/EvalSpec over the same TFDS
input_fns. See also estimator_migrate/cli/train_estimator.py (a Keras model as an
Estimator), estimator_migrate/cli/canned_migration.py (the change table) and the
checkpoint converter (estimator_migrate/cli/convert_checkpoint.py).

Example:
  bazel run //examples/estimators:after -- --steps=200
"""

from collections.abc import Sequence
import tempfile

from absl import app
from absl import flags
import tensorflow as tf

from estimator_migrate.tf2 import canned
from examples.estimators import before


def run(
    model_dir: str, steps: int, *, warm_start_from=None, data_dir=None
) -> dict:
  """Trains and evaluates the translated v2 estimator; the eval metrics."""
  train_fn, eval_fn = before.input_fns(data_dir)
  estimator = canned.make_v2_estimator(
      'DNNClassifier',
      model_dir=model_dir,
      warm_start_from=warm_start_from,
      config=tf.estimator.RunConfig(tf_random_seed=0),
      **before.v1_kwargs(),
  )
  metrics, _ = tf.estimator.train_and_evaluate(
      estimator,
      tf.estimator.TrainSpec(train_fn, max_steps=steps),
      tf.estimator.EvalSpec(eval_fn, steps=None, throttle_secs=0),
  )
  return metrics


def main(argv: Sequence[str]) -> None:
  del argv
  tf.get_logger().setLevel('ERROR')
  metrics = run(tempfile.mkdtemp(), flags.FLAGS.steps)
  print(
      f'v2: accuracy={metrics["accuracy"]:.4f}'
      f' average_loss={metrics["average_loss"]:.4f}'
  )


if __name__ == '__main__':
  # Defined here, not at import: a binary's flags stay out of importable code.
  flags.DEFINE_integer('steps', 200, 'Training steps.')
  app.run(main)
