"""Helpers shared by the export tests."""

import numpy as np
import tensorflow as tf


def labels(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
  """`n` labels: `'vocabulary'` (no/yes), `'classesK'` or `'regressionD'`."""
  if kind == 'vocabulary':
    return rng.choice(np.array(['no', 'yes']), size=(n, 1))
  if kind.startswith('classes'):
    return rng.integers(0, int(kind[-1]), size=(n, 1))
  return rng.normal(size=(n, int(kind[-1]))).astype(np.float32)


def served_alike(
    test, served: dict, tolerance: float, rows: int | None = None
) -> float:
  """Asserts the export's served outputs are the estimator's; the max diff.

  `served`: `serving_parity`'s outputs, `estimator/<signature>/<key>` and
  `client/estimator/...` beside the same keys under `ours/`. Every one:
  same dtype and shape (`rows` rows, if given); strings and integers
  identical, floats within `tolerance`.

  Returns:
    The largest float difference.
  """
  expected = [
      k for k in served if k.startswith(('estimator/', 'client/estimator/'))
  ]
  test.assertNotEmpty(expected)
  worst = 0.0
  for key in expected:
    want = served[key]
    got = served.get(key.replace('estimator/', 'ours/', 1))
    test.assertIsNotNone(got, f'ours gives no {key}')
    test.assertEqual(got.dtype, want.dtype, key)
    test.assertEqual(got.shape, want.shape, key)
    if rows is not None:
      test.assertLen(want, rows, key)
    if want.dtype.kind == 'f':
      np.testing.assert_allclose(got, want, rtol=0, atol=tolerance)
      worst = max(worst, float(np.max(np.abs(got - want))))
    else:
      np.testing.assert_array_equal(got, want, key)
  return worst


def example(values: dict) -> bytes:
  """A serialized tf.Example: strings as bytes_list, numbers as float_list.

  An empty value leaves its feature out (missing).
  """
  out = tf.train.Example()
  for key, value in values.items():
    value = np.ravel(value).tolist()
    if not value:
      continue
    feature = out.features.feature[key]
    if isinstance(value[0], (str, bytes)):
      feature.bytes_list.value.extend(
          v.encode() if isinstance(v, str) else v for v in value
      )
    else:
      feature.float_list.value.extend(value)
  return out.SerializeToString()


def checkpoint_weights(result, model_dir: str) -> dict:
  """A custom export's weights, by name, as the model_dir's checkpoint is now.

  `result`: the `keras_model_to_keras` result; its names are read from the
  latest checkpoint (object-based ones under their `VARIABLE_VALUE` key).
  """
  reader = tf.train.load_checkpoint(model_dir)
  suffix = ''
  if result.spec.model.checkpoint_format == 'object-based':
    suffix = '/.ATTRIBUTES/VARIABLE_VALUE'
  model = result.spec.model
  return {
      n: reader.get_tensor(result.checkpoint_keys.get(n, n) + suffix)
      for n in model.trainable + model.non_trainable
  }
