"""THE optimizer cases of the equivalence tests, with measured tolerances.

Read by canned_optimizers_test (a v1 DNNClassifier against its translated v2
twin, trained side by side for 6 steps) and checkpoint_continuation_test (v1
trained 4 steps, converted, and both continued 4 more). A tolerance bounds
max |w_v1 - w_v2| / max(|w_v2|, 1e-3) over all weights.

Measured on TF 2.15.1, CPU, over tf_random_seed 0..7 (side by side): SGD,
Adadelta, Ftrl 0; Adagrad 5.8e-6 (v1 rsqrt vs Keras 1/sqrt); Momentum
8.9e-6, Nesterov 6.8e-6 (Keras keeps -lr * the accumulator); Adam 8.1e-5
with beta1 0.8 (Keras computes beta^t with pow, v1 multiplies a variable
every step); eval losses within 2.2e-7 relative. Keras RMSprop is not v1's
(up to 80 relative, eval loss 2.5% off) when it starts from its own slots;
continued from converted (v1) slots it runs v1's kernel with momentum > 0
(0 difference) and differs by 2.2e-7 without (sqrt(ms) + eps vs
sqrt(ms + eps), eps = 1e-10). With exact=True every compat optimizer is
bit-identical.
"""

from collections.abc import Callable
import dataclasses
import types

import tensorflow as tf

_V1 = tf.compat.v1.train


@dataclasses.dataclass(frozen=True)
class OptimizerCase:
  """One v1 optimizer configuration and how close its translation trains.

  `translated`: the bound side by side from the same initial weights; None
  when Keras' class is not v1's (the translation is reported inexact and the
  difference exceeds 1e-3). `continued`: the bound after conversion and
  continued training. `compat`: exact=True (compat optimizers) is tested to
  be bit-identical.
  """

  make: Callable[[], tf.compat.v1.train.Optimizer]
  translated: float | None
  continued: float
  compat: bool = False


OPTIMIZERS: types.MappingProxyType[str, OptimizerCase] = types.MappingProxyType(
    {
        'sgd': OptimizerCase(
            lambda: _V1.GradientDescentOptimizer(0.1), 0.0, 0.0
        ),
        'momentum': OptimizerCase(
            lambda: _V1.MomentumOptimizer(0.1, 0.9), 5e-5, 5e-5, compat=True
        ),
        'nesterov': OptimizerCase(
            lambda: _V1.MomentumOptimizer(0.1, 0.9, use_nesterov=True),
            5e-5,
            5e-5,
            compat=True,
        ),
        'adam': OptimizerCase(
            lambda: _V1.AdamOptimizer(0.01, beta1=0.8), 3e-4, 3e-4
        ),
        'adagrad': OptimizerCase(
            lambda: _V1.AdagradOptimizer(0.1), 3e-5, 3e-5, compat=True
        ),
        'adadelta': OptimizerCase(lambda: _V1.AdadeltaOptimizer(1.0), 0.0, 0.0),
        'ftrl': OptimizerCase(
            lambda: _V1.FtrlOptimizer(
                0.1,
                l1_regularization_strength=0.01,
                l2_regularization_strength=0.01,
                l2_shrinkage_regularization_strength=0.01,
                beta=0.1,
            ),
            0.0,
            0.0,
        ),
        'rmsprop': OptimizerCase(
            lambda: _V1.RMSPropOptimizer(0.01), None, 1e-5, compat=True
        ),
        'rmsprop_momentum': OptimizerCase(
            lambda: _V1.RMSPropOptimizer(0.01, momentum=0.5),
            None,
            0.0,
            compat=True,
        ),
        'rmsprop_centered': OptimizerCase(
            lambda: _V1.RMSPropOptimizer(0.01, momentum=0.5, centered=True),
            None,
            0.0,
            compat=True,
        ),
    }
)


# Eval losses (`average_loss`, and `loss`, a sum in v1) agree within this
# relative difference wherever the weights do (measured: 2.2e-7).
LOSS_RTOL = 1e-5


def assert_same_losses(test, result) -> None:
  """Both sides' eval `average_loss` and `loss` agree within LOSS_RTOL."""
  # `loss` is a sum in v1; equal only if SUM was made explicit.
  for key in ('average_loss', 'loss'):
    test.assertAlmostEqual(
        result.v1_metrics[key],
        result.v2_metrics[key],
        delta=LOSS_RTOL * abs(result.v1_metrics[key]),
        msg=key,
    )


def named(predicate: Callable[[OptimizerCase], bool]):
  """`named_parameters` arguments (name, name) of the cases that qualify."""
  return [(name, name) for name, case in OPTIMIZERS.items() if predicate(case)]
