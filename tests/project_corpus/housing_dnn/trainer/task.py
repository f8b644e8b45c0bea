"""Trains and exports the housing price regressor (TF 1.x)."""

import sys

import tensorflow as tf

from trainer import flags_lib
from trainer import inputs
from trainer import model


def run(args):
  tf.logging.set_verbosity(tf.logging.INFO)
  tf.gfile.MakeDirs(args.model_dir)
  run_config = tf.estimator.RunConfig(
      model_dir=args.model_dir,
      tf_random_seed=42,
      save_checkpoints_steps=50,
      session_config=tf.ConfigProto(
          allow_soft_placement=True, log_device_placement=False
      ),
  )
  estimator = model.build_estimator(run_config, args)
  hooks = [tf.train.StepCounterHook(every_n_steps=50)]
  tf.estimator.train_and_evaluate(
      estimator,
      tf.estimator.TrainSpec(
          lambda: inputs.train_input_fn(args.train_data, args.batch_size),
          max_steps=args.train_steps,
          hooks=hooks,
      ),
      tf.estimator.EvalSpec(
          lambda: inputs.eval_input_fn(args.eval_data),
          steps=None,
          throttle_secs=0,
      ),
  )
  if args.export_dir:
    estimator.export_savedmodel(
        args.export_dir,
        inputs.serving_input_receiver_fn,
        strip_default_attrs=True,
    )
  return estimator


def main(argv=None):
  return run(flags_lib.parse(argv))


if __name__ == '__main__':
  main(sys.argv[1:])
