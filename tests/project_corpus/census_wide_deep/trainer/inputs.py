"""Reads the census CSV files."""

import tensorflow as tf

CSV_COLUMNS = ['age', 'hours_per_week', 'education', 'occupation', 'label']
CSV_DEFAULTS = [[0.0], [0.0], [''], [''], [0]]
LABEL = 'label'


def input_fn(path, batch_size, num_epochs=None):
  """Batches of (features, label) from a CSV file with a header line."""

  def parse(line):
    fields = tf.decode_csv(line, record_defaults=CSV_DEFAULTS)
    features = dict(zip(CSV_COLUMNS, fields, strict=True))
    label = features.pop(LABEL)
    return features, label

  dataset = tf.data.TextLineDataset(path).skip(1).map(parse)
  return dataset.repeat(num_epochs).batch(batch_size)
