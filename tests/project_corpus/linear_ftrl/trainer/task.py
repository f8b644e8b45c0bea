"""Occupation classifier: a linear model over crossed features (TF 1.x)."""

import argparse
import os

import tensorflow as tf

from trainer import data
from trainer import model

FLAGS = None


def train_and_export(flags):
  tf.logging.set_verbosity(tf.logging.WARN)
  if tf.gfile.IsDirectory(flags.model_dir) and flags.fresh:
    tf.gfile.DeleteRecursively(flags.model_dir)
  config = tf.estimator.RunConfig(
      tf_random_seed=7,
      keep_checkpoint_max=3,
      session_config=tf.ConfigProto(device_count={'GPU': 0}),
  )
  classifier = model.create(flags.model, flags.model_dir, config)
  train_spec = tf.estimator.TrainSpec(
      input_fn=data.make_input_fn(
          os.path.join(flags.data_dir, 'train.csv'),
          flags.batch_size,
          shuffle=False,
      ),
      max_steps=flags.train_steps,
      hooks=[tf.train.LoggingTensorHook(['global_step'], every_n_iter=10)],
  )
  eval_spec = tf.estimator.EvalSpec(
      input_fn=data.make_input_fn(
          os.path.join(flags.data_dir, 'eval.csv'), flags.batch_size, epochs=1
      ),
      throttle_secs=0,
  )
  tf.estimator.train_and_evaluate(classifier, train_spec, eval_spec)
  if flags.export_dir:
    classifier.export_savedmodel(flags.export_dir, data.serving_input_fn)
  return classifier


def main(argv=None):
  parser = argparse.ArgumentParser()
  parser.add_argument('--model', default='linear')
  parser.add_argument('--model_dir', default='models/linear')
  parser.add_argument('--data_dir', default='data')
  parser.add_argument('--export_dir', default=None)
  parser.add_argument('--train_steps', type=int, default=100)
  parser.add_argument('--batch_size', type=int, default=6)
  parser.add_argument('--fresh', action='store_true')
  global FLAGS
  FLAGS = parser.parse_args(argv)
  return train_and_export(FLAGS)


if __name__ == '__main__':
  main()
