"""Occupation-group classifier with a contrib head (TF 1.x).

python -m trainer.task --model_dir=models/head --steps=400
"""

import argparse

import tensorflow as tf

from trainer import heads_model
from trainer import io_utils


def main(argv=None):
  parser = argparse.ArgumentParser()
  parser.add_argument('--model_dir', default='models/head')
  parser.add_argument('--steps', type=int, default=400)
  parser.add_argument('--export', default=None)
  args = parser.parse_args(argv)
  tf.logging.set_verbosity(tf.logging.ERROR)
  config = tf.estimator.RunConfig(
      model_dir=args.model_dir,
      tf_random_seed=5,
      session_config=tf.ConfigProto(
          intra_op_parallelism_threads=1, inter_op_parallelism_threads=1
      ),
  )
  estimator = heads_model.build(config)
  train_spec = tf.estimator.TrainSpec(
      io_utils.csv_input_fn('data/train.csv', repeat=True),
      max_steps=args.steps,
      hooks=[tf.train.LoggingTensorHook(['global_step'], every_n_iter=50)],
  )
  eval_spec = tf.estimator.EvalSpec(
      io_utils.csv_input_fn('data/eval.csv'), throttle_secs=0
  )
  tf.estimator.train_and_evaluate(estimator, train_spec, eval_spec)
  if args.export:
    estimator.export_savedmodel(args.export, io_utils.serving_input_fn)
  return estimator


if __name__ == '__main__':
  main()
