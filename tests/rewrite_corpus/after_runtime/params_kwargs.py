"""Arguments from a config dict and an optimizer from the caller."""

import estimator_migrate.tf2.canned


def build_estimator(params, optimizer, columns):
  first = estimator_migrate.tf2.canned.make_v2_estimator(
      'DNNClassifier', feature_columns=columns, **params
  )
  second = estimator_migrate.tf2.canned.make_v2_estimator(
      'LinearRegressor', feature_columns=columns, optimizer=optimizer
  )
  return first, second
