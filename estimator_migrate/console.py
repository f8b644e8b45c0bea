"""Runs an absl main from a console script with the module's own --help.

absl prints `__main__`'s docstring and the flags of the module that
`sys.argv[0]` names; for a console script both are pip's wrapper, so --help
would show neither the description nor the flags.
"""

from collections.abc import Callable
import sys
from typing import Any

from absl import app
from absl import flags


def run(
    main: Callable[..., int | None],
    module_name: str,
    **run_kwargs: Any,
) -> None:
  """Gives the wrapper the module's docstring and key flags, then runs.

  Args:
    main: The absl main.
    module_name: The module whose docstring and flags --help shows.
    **run_kwargs: Passed to `absl.app.run` (e.g. `flags_parser`).
  """
  module = sys.modules[module_name]
  sys.modules['__main__'].__doc__ = module.__doc__
  for flag in flags.FLAGS.get_key_flags_for_module(module_name):
    flags.FLAGS.register_key_flag_for_module(sys.argv[0], flag)
  app.run(main, **run_kwargs)
