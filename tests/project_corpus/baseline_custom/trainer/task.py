"""Hours-per-week regression: a baseline and a custom model (TF 1.x).

python -m trainer.task --estimator=baseline --job-dir=models/baseline
"""

import argparse

import tensorflow as tf

from trainer import custom
from trainer import input_pipeline
from trainer import model_zoo


def get_args(argv=None):
  parser = argparse.ArgumentParser()
  parser.add_argument('--job-dir', dest='job_dir', default='models/run')
  parser.add_argument(
      '--estimator', default='baseline', choices=['baseline', 'custom']
  )
  parser.add_argument(
      '--train-files', dest='train_files', default='data/train.csv'
  )
  parser.add_argument(
      '--eval-files', dest='eval_files', default='data/eval.csv'
  )
  parser.add_argument(
      '--train-steps', dest='train_steps', type=int, default=500
  )
  parser.add_argument('--export-dir', dest='export_dir', default=None)
  return parser.parse_args(argv)


def main(argv=None):
  args = get_args(argv)
  tf.logging.set_verbosity(tf.logging.INFO)
  session_config = tf.ConfigProto(
      inter_op_parallelism_threads=2, intra_op_parallelism_threads=2
  )
  session_config.gpu_options.allow_growth = True
  config = tf.estimator.RunConfig(
      model_dir=args.job_dir,
      tf_random_seed=3,
      session_config=session_config,
      save_summary_steps=10,
  )
  if args.estimator == 'custom':
    estimator = custom.make_estimator(config)
  else:
    estimator = model_zoo.baseline(config)
  tf.estimator.train_and_evaluate(
      estimator,
      tf.estimator.TrainSpec(
          input_pipeline.input_fn(args.train_files, repeat=True),
          max_steps=args.train_steps,
          hooks=[tf.train.StepCounterHook(every_n_steps=10)],
      ),
      tf.estimator.EvalSpec(
          input_pipeline.input_fn(args.eval_files), throttle_secs=0
      ),
  )
  if args.export_dir:
    estimator.export_savedmodel(
        args.export_dir, input_pipeline.serving_input_fn
    )
  return estimator


if __name__ == '__main__':
  main()
