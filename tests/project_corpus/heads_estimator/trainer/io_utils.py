"""Input and serving functions."""

import tensorflow as tf

from trainer import heads_model

NAMES = ['age', 'hours_per_week', 'education', 'occupation', 'label']


def csv_input_fn(path, repeat=False, batch_size=8):
  def input_fn():
    if not tf.gfile.Exists(path):
      raise OSError(f'no data at {path}')
    dataset = tf.data.TextLineDataset(path).skip(1)
    dataset = dataset.map(
        lambda line: tf.decode_csv(line, [[0.0], [0.0], [''], [''], [0]])
    )
    dataset = dataset.map(
        lambda *row: (dict(zip(NAMES[:4], row[:4], strict=True)), row[4])
    )
    return (dataset.repeat() if repeat else dataset).batch(batch_size)

  return input_fn


def serving_input_fn():
  spec = tf.feature_column.make_parse_example_spec(heads_model.columns())
  return tf.estimator.export.build_parsing_serving_input_receiver_fn(spec)()
