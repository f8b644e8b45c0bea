"""Education-level classifier (TF 1.x; the repository ran tf_upgrade_v2).

python -m trainer.task --output_dir=models/dnn
"""

import argparse
import json
import os

import tensorflow as tf

from trainer import model
from trainer import reader


def parse(argv):
  parser = argparse.ArgumentParser()
  parser.add_argument('--output_dir', default='models/dnn')
  parser.add_argument('--train_path', default='data/train.csv')
  parser.add_argument('--eval_path', default='data/eval.csv')
  parser.add_argument('--regression', action='store_true')
  parser.add_argument('--max_steps', type=int, default=300)
  parser.add_argument('--export_dir', default='')
  return parser.parse_args(argv)


def main(argv=None):
  args = parse(argv)
  tf.logging.set_verbosity(tf.logging.INFO)
  tf.gfile.MakeDirs(args.output_dir)
  with tf.gfile.GFile(os.path.join(args.output_dir, 'args.json'), 'w') as f:
    f.write(json.dumps(vars(args)))
  config = tf.estimator.RunConfig(
      tf_random_seed=11,
      session_config=tf.ConfigProto(
          gpu_options=tf.GPUOptions(per_process_gpu_memory_fraction=0.5)
      ),
  )
  estimator = model.make_estimator(args.output_dir, config, args.regression)
  tf.estimator.train_and_evaluate(
      estimator,
      tf.estimator.TrainSpec(
          reader.input_fn(args.train_path, tf.estimator.ModeKeys.TRAIN),
          max_steps=args.max_steps,
          hooks=[
              tf.train.LoggingTensorHook(
                  {'step': 'global_step'}, every_n_iter=100
              )
          ],
      ),
      tf.estimator.EvalSpec(
          reader.input_fn(args.eval_path, tf.estimator.ModeKeys.EVAL),
          throttle_secs=0,
      ),
  )
  if args.export_dir:
    estimator.export_savedmodel(args.export_dir, reader.serving_fn)
  return estimator


if __name__ == '__main__':
  main()
