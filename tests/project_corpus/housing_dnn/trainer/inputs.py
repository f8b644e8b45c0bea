"""Input functions: CSV for training and evaluation, tf.Example serving."""

import tensorflow as tf

from trainer import featurizer

HEADER = ['age', 'hours_per_week', 'education', 'occupation', 'label']
DEFAULTS = [[0.0], [0.0], ['HS-grad'], ['Sales'], [0.0]]


def _dataset(path):
  def decode(line):
    values = tf.decode_csv(line, DEFAULTS)
    features = dict(zip(HEADER, values, strict=True))
    return features, features.pop('label')

  return tf.data.TextLineDataset([path]).skip(1).map(decode)


def train_input_fn(path, batch_size):
  return _dataset(path).repeat().batch(batch_size)


def eval_input_fn(path):
  return _dataset(path).batch(64)


def serving_input_receiver_fn():
  spec = tf.feature_column.make_parse_example_spec(featurizer.columns())
  examples = tf.placeholder(tf.string, shape=[None], name='examples')
  features = tf.parse_example(examples, spec)
  return tf.estimator.export.ServingInputReceiver(features, examples)
