"""Trains, evaluates and exports the census income model (TF 1.x).

python -m trainer.task --model_dir=models/census --train_steps=1000
"""

import argparse
import sys

import tensorflow as tf

from trainer import inputs
from trainer import model


def parse_args(argv):
  parser = argparse.ArgumentParser(description=__doc__)
  parser.add_argument('--model_dir', default='models/census')
  parser.add_argument(
      '--model_type', default='wide_deep', choices=['wide', 'deep', 'wide_deep']
  )
  parser.add_argument('--train_data', default='data/train.csv')
  parser.add_argument('--eval_data', default='data/eval.csv')
  parser.add_argument('--train_steps', type=int, default=1000)
  parser.add_argument('--batch_size', type=int, default=8)
  parser.add_argument('--export_dir', default='')
  return parser.parse_args(argv)


def run(args):
  tf.logging.set_verbosity(tf.logging.INFO)
  if not tf.gfile.Exists(args.model_dir):
    tf.gfile.MakeDirs(args.model_dir)
  session_config = tf.ConfigProto(
      intra_op_parallelism_threads=1, inter_op_parallelism_threads=1
  )
  config = tf.estimator.RunConfig(
      tf_random_seed=0,
      session_config=session_config,
      save_checkpoints_steps=100,
  )
  estimator = model.build_estimator(args.model_dir, args.model_type, config)

  train_spec = tf.estimator.TrainSpec(
      input_fn=lambda: inputs.input_fn(args.train_data, args.batch_size),
      max_steps=args.train_steps,
      hooks=[
          tf.train.LoggingTensorHook({'step': 'global_step'}, every_n_iter=100)
      ],
  )
  eval_spec = tf.estimator.EvalSpec(
      input_fn=lambda: inputs.input_fn(args.eval_data, args.batch_size, 1),
      steps=None,
      throttle_secs=0,
  )
  tf.estimator.train_and_evaluate(estimator, train_spec, eval_spec)

  if args.export_dir:
    estimator.export_savedmodel(args.export_dir, model.serving_input_fn())
  return estimator


def main(argv=None):
  return run(parse_args(argv))


if __name__ == '__main__':
  main(sys.argv[1:])
