"""Reads the CSV files; the label is the regression target."""

import tensorflow as tf

from trainer import columns

CSV_HEADER = ['age', 'hours_per_week', 'education', 'occupation', 'label']
CSV_DEFAULTS = [[0.0], [0.0], [''], [''], [0.0]]


def input_fn(pattern, repeat=False, batch_size=8):
  def _input_fn():
    files = tf.gfile.Glob(pattern)
    dataset = tf.data.TextLineDataset(files).skip(1)

    def _parse(line):
      row = tf.decode_csv(line, record_defaults=CSV_DEFAULTS)
      features = dict(zip(CSV_HEADER, row, strict=True))
      label = features.pop('label')
      return features, label

    dataset = dataset.map(_parse)
    if repeat:
      dataset = dataset.repeat()
    return dataset.batch(batch_size)

  return _input_fn


def serving_input_fn():
  spec = tf.feature_column.make_parse_example_spec(columns.all_columns())
  return tf.estimator.export.build_parsing_serving_input_receiver_fn(spec)()
