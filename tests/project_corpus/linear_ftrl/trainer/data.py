"""CSV input functions and the serving input function."""

import tensorflow as tf

_COLUMNS = ['age', 'hours_per_week', 'education', 'occupation', 'label']
_DEFAULTS = [[0.0], [0.0], [''], [''], [0]]


def make_input_fn(path, batch_size, shuffle=False, epochs=None):
  def input_fn():
    dataset = tf.data.TextLineDataset(path).skip(1)
    if shuffle:
      dataset = dataset.shuffle(1000)
    dataset = dataset.map(
        lambda line: tf.decode_csv(line, record_defaults=_DEFAULTS)
    )
    dataset = dataset.map(
        lambda *fields: (
            dict(zip(_COLUMNS[:-1], fields[:-1], strict=True)),
            fields[-1],
        )
    )
    return dataset.repeat(epochs).batch(batch_size)

  return input_fn


def serving_input_fn():
  placeholders = {
      'age': tf.placeholder(tf.float32, [None]),
      'hours_per_week': tf.placeholder(tf.float32, [None]),
      'education': tf.placeholder(tf.string, [None]),
      'occupation': tf.placeholder(tf.string, [None]),
  }
  return tf.estimator.export.ServingInputReceiver(
      {k: tf.expand_dims(v, -1) for k, v in placeholders.items()}, placeholders
  )
