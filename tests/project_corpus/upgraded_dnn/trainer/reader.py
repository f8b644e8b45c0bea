"""tf.data readers."""

import tensorflow as tf

from trainer import model

FIELDS = ['age', 'hours_per_week', 'education', 'occupation', 'label']


def input_fn(path, mode, batch_size=8):
  defaults = [[0.0], [0.0], [''], [''], [0]]

  def _fn():
    lines = tf.data.TextLineDataset(path).skip(1)
    rows = lines.map(lambda line: tf.decode_csv(line, record_defaults=defaults))
    pairs = rows.map(
        lambda *r: (dict(zip(FIELDS[:4], r[:4], strict=True)), r[4])
    )
    if mode == tf.estimator.ModeKeys.TRAIN:
      pairs = pairs.repeat()
    return pairs.batch(batch_size)

  return _fn


def serving_fn():
  spec = tf.feature_column.make_parse_example_spec(model.feature_columns())
  return tf.estimator.export.build_parsing_serving_input_receiver_fn(spec)()
