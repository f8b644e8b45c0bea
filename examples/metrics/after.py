r"""TF2 style: tf.keras.metrics objects: update_state, result, reset_state.

Example:
  bazel run //examples/metrics:after
"""

from collections.abc import Sequence

from absl import app
import tensorflow as tf

from examples.metrics import before


def run(batches):
  """Same streams as before.run; returns per-epoch (accuracy, mean loss)."""
  accuracy = tf.keras.metrics.Accuracy()
  mean = tf.keras.metrics.Mean()
  results = []
  for epoch in batches:
    accuracy.reset_state()
    mean.reset_state()
    for y, p, loss in epoch:
      accuracy.update_state(y, p)
      mean.update_state(loss)
    results.append((float(accuracy.result()), float(mean.result())))
  return results


def main(argv: Sequence[str]) -> None:
  del argv
  for epoch, (acc, mean) in enumerate(run(before.example_batches()), 1):
    print(f'epoch {epoch}: accuracy={acc:.4f} mean_loss={mean:.4f}')


if __name__ == '__main__':
  app.run(main)
