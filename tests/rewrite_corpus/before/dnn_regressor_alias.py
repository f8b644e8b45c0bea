"""A regressor through a module alias, its optimizer built first."""

import tensorflow as tf
from tensorflow.compat.v1 import estimator as tfe
from tensorflow.compat.v1 import train


def build_estimator(model_dir, config=None, warm_start_from=None):
  columns = [tf.feature_column.numeric_column('x', shape=[3])]
  optimizer = train.MomentumOptimizer(
      learning_rate=0.05, momentum=0.9, use_nesterov=True
  )
  return tfe.DNNRegressor(
      [4],
      columns,
      model_dir=model_dir,
      optimizer=optimizer,
      config=config,
      warm_start_from=warm_start_from,
  )
