"""TF 1 -> TF 2: estimators that train as v1 did, on TF 2.15.

The second stop: `canned` (v1 canned-estimator arguments translated to v2,
`make_v2_estimator`), `keras_estimator` (Keras models as Estimators,
`to_estimator`), `model_fn` (`make_model_fn`, the guide's custom model_fn
done once), `side_by_side` (a v1 estimator and its translation trained from
one start), `differences` (how far two sets of weights are apart).
"""
