"""Command-line flags of the housing trainer."""

import argparse


def parse(argv=None):
  parser = argparse.ArgumentParser()
  parser.add_argument('--model_dir', default='models/housing')
  parser.add_argument('--train_data', default='data/train.csv')
  parser.add_argument('--eval_data', default='data/eval.csv')
  parser.add_argument('--export_dir', default='')
  parser.add_argument('--estimator', default='dnn', choices=['dnn', 'linear'])
  parser.add_argument('--hidden_units', default='16,8')
  parser.add_argument('--learning_rate', type=float, default=0.01)
  parser.add_argument('--train_steps', type=int, default=2000)
  parser.add_argument('--batch_size', type=int, default=8)
  return parser.parse_args(argv)
