r"""Lists a checkpoint's variables by role: model, optimizer slot, step, ...

Reads v1 checkpoints (slots named <var>/<Optimizer>[_N], Adam's
beta1_power/beta2_power) and v2 ones (Keras optimizer state under
training/<Optimizer>/), printing each variable's shape, dtype and size, and
totals per role. Nothing is written.

Example:
  bazel run //estimator_migrate/cli:inspect_checkpoint -- --source=/models/v1
  estimator-migrate-inspect --source=/models/v2/model.ckpt-5000
"""

from collections.abc import Sequence

# First: it quiets TensorFlow, which must not be loaded yet.
from estimator_migrate.cli import console  # isort: split

from absl import app
from absl import flags

from estimator_migrate.checkpoints import inspect

_SOURCE = flags.DEFINE_string('source', None, 'Checkpoint prefix or model_dir.')
_ARGUMENTS = console.ArgumentFlags.of('source')


def main(argv: Sequence[str]) -> int:
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  inventory = inspect.inspect_checkpoint(_SOURCE.value)
  print(inventory.prefix)
  print(inventory.table())
  print(inventory.totals())
  return 0


def run() -> None:
  """Console-script entry point."""
  flags.mark_flags_as_required([_SOURCE])
  console.run(main, __name__, arguments=_ARGUMENTS)


if __name__ == '__main__':
  run()
