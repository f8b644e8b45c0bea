r"""TF1 style: a v1 canned DNNClassifier, train() then evaluate().

Example:
  bazel run //examples/estimators:before -- --steps=200
"""

from collections.abc import Sequence
import tempfile

from absl import app
from absl import flags
import tensorflow as tf

from estimator_migrate.guide import data


def v1_kwargs(learning_rate: float = 0.05) -> dict:
  """The arguments a TF1 user gave, v1 optimizer included."""
  return dict(
      hidden_units=[32],
      feature_columns=[
          tf.feature_column.numeric_column('image', shape=(28, 28, 1))
      ],
      n_classes=10,
      optimizer=tf.compat.v1.train.AdagradOptimizer(learning_rate),
  )


def input_fns(data_dir=None, batch_size=32):
  return data.make_input_fns(
      data_dir=data_dir, batch_size=batch_size, shuffle=False
  )


def run(
    model_dir: str,
    steps: int,
    *,
    warm_start_from=None,
    data_dir=None,
    learning_rate: float = 0.05,
) -> dict:
  """Trains and evaluates the v1 estimator; returns the eval metrics."""
  train_fn, eval_fn = input_fns(data_dir)
  estimator = tf.compat.v1.estimator.DNNClassifier(
      model_dir=model_dir,
      warm_start_from=warm_start_from,
      config=tf.estimator.RunConfig(tf_random_seed=0),
      **v1_kwargs(learning_rate),
  )
  estimator.train(train_fn, steps=steps)
  return estimator.evaluate(eval_fn)


def main(argv: Sequence[str]) -> None:
  del argv
  tf.get_logger().setLevel('ERROR')
  metrics = run(tempfile.mkdtemp(), flags.FLAGS.steps)
  print(
      f'v1: accuracy={metrics["accuracy"]:.4f}'
      f' average_loss={metrics["average_loss"]:.4f}'
  )


if __name__ == '__main__':
  # Defined here, not at import: after.py imports this module.
  flags.DEFINE_integer('steps', 200, 'Training steps.')
  app.run(main)
