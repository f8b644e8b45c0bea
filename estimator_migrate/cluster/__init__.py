"""Rehearsing on a cluster: a loopback TF cluster and what its tasks run.

`loopback` (`LocalCluster`: chief, workers, ps and evaluator as local
processes with faults on demand), `trainers` (the canned model a task
trains and how to read the tasks' logs). The Keras 3 `fit` a cluster runs
in the modern environment is `estimator_migrate.keras3.cluster_fit`.
"""

from estimator_migrate import _moved

# Before 0.2 this package was one module, `estimator_migrate/cluster.py`;
# its names now live in `loopback`.
_LOOPBACK_NAMES = (
    'LocalCluster',
    'ClusterError',
    'free_ports',
    'cluster_spec',
    'tf_config',
    'LOOPBACK',
    'ROLES',
    'DEFAULT_TASK_TIMEOUT_SECS',
)


def __getattr__(name):
  if name in _LOOPBACK_NAMES:
    _moved.warn(
        f'estimator_migrate.cluster.{name}',
        f'estimator_migrate.cluster.loopback.{name}',
    )
    from estimator_migrate.cluster import loopback

    return getattr(loopback, name)
  raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
