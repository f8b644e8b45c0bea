r"""TF1 style: tf.compat.v1.metrics with local variables and update ops.

Example:
  bazel run //examples/metrics:before
"""

from collections.abc import Sequence

from absl import app
import numpy as np
import tensorflow as tf


def run(batches):
  """Streams batches of (labels, predictions, losses), epoch by epoch.

  Returns:
    (accuracy, mean loss) after each epoch of `batches` (a list of epochs).
  """
  with tf.Graph().as_default():
    labels = tf.compat.v1.placeholder(tf.int64, [None])
    predictions = tf.compat.v1.placeholder(tf.int64, [None])
    losses = tf.compat.v1.placeholder(tf.float32, [None])
    accuracy, accuracy_update = tf.compat.v1.metrics.accuracy(
        labels, predictions
    )
    mean, mean_update = tf.compat.v1.metrics.mean(losses)
    results = []
    with tf.compat.v1.Session() as session:
      for epoch in batches:
        # Metric state lives in local variables: re-initialise to reset.
        session.run(tf.compat.v1.local_variables_initializer())
        for y, p, loss in epoch:
          session.run(
              [accuracy_update, mean_update],
              {labels: y, predictions: p, losses: loss},
          )
        results.append(tuple(session.run([accuracy, mean])))
    return results


def example_batches(seed: int = 0, epochs: int = 2, steps: int = 3):
  rng = np.random.RandomState(seed)
  return [
      [
          (
              rng.randint(0, 3, 8),
              rng.randint(0, 3, 8),
              rng.uniform(size=8).astype(np.float32),
          )
          for _ in range(steps)
      ]
      for _ in range(epochs)
  ]


def main(argv: Sequence[str]) -> None:
  del argv
  for epoch, (accuracy, mean) in enumerate(run(example_batches()), 1):
    print(f'epoch {epoch}: accuracy={accuracy:.4f} mean_loss={mean:.4f}')


if __name__ == '__main__':
  app.run(main)
