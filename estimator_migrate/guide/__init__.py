"""The migration guide's sample code and the embedded data sets.

Used by the examples, benchmarks, the demo and the tests, never by the
migration itself: `data` (TFDS loading and Estimator input_fns), `models`
(the guide's CNN), `training` (its three TF2 training loops),
`uci_digits` and `palmer_penguins` (TFDS builders over the data in
`datasets/`, so that nothing downloads).
"""
