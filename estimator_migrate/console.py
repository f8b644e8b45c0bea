"""Runs every binary's absl main with one convention for output and exit codes.

Exit codes: 0 success, 1 a verdict (a binary's own, e.g. diverged), 2 bad
input or environment. Every error is one line on stderr naming the flag or
file and what to do, never a traceback or the whole flag help: absl's own
usage errors (an unknown flag, a malformed value, a missing required flag,
`app.UsageError` from main) would exit 1 after printing the help.

The library names its arguments in errors (`dataset='x' is not ...`,
`source is empty`); a binary's users know flags. Each binary declares which
of its flags set which argument (`ArgumentFlags`) and `run` rewrites every
`MigrationError` it reports: `argument=` becomes `--flag=`, and a message
that starts with the argument's name starts with the flag.

As a console script, absl would show neither the module's docstring nor its
flags in --help (both belong to pip's wrapper), so they are handed over.
"""

from collections.abc import Callable, Mapping, Sequence
import dataclasses
import functools
import math
import os
import re
import sys

from absl import app
from absl import flags
import tensorflow as tf

from estimator_migrate import errors

USAGE_ERROR = 2


def require_positive_finite(holder: flags.FlagHolder) -> None:
  """Registers a check that a float flag is finite and > 0 (or unset)."""
  flags.register_validator(
      holder.name,
      lambda value: value is None or (math.isfinite(value) and value > 0),
      message=f'--{holder.name} must be a finite number greater than 0.',
  )


def require_new_or_directory(holder: flags.FlagHolder) -> None:
  """Registers a check that a path flag is unset, new, or a directory."""
  flags.register_validator(
      holder.name,
      lambda value: not value
      or not tf.io.gfile.exists(value)
      or tf.io.gfile.isdir(value),
      message=f'--{holder.name} names a file; give a directory.',
  )


@dataclasses.dataclass(frozen=True)
class ArgumentFlags:
  """How one binary names the library's arguments in its errors.

  Example:
    ARGUMENTS = console.ArgumentFlags.of('workdir', 'dataset', 'data_dir')
    console.run(main, __name__, arguments=ARGUMENTS)
  """

  flags: Mapping[str, str]  # library argument -> the flag that sets it
  # (regex, replacement) for what is not `argument=`, applied first: e.g.
  # `overwrite=True` -> `--overwrite`.
  special: tuple[tuple[str, str], ...] = ()

  @classmethod
  def of(
      cls,
      *same: str,
      special: tuple[tuple[str, str], ...] = (),
      **renamed: str,
  ) -> 'ArgumentFlags':
    """Arguments whose flag has their name, then `argument='flag'` pairs."""
    return cls({**{name: name for name in same}, **renamed}, special)

  def __call__(self, message: str) -> str:
    """`message` with each known argument named as its flag."""
    for pattern, replacement in self.special:
      message = re.sub(pattern, replacement, message)
    for argument, flag in self.flags.items():
      name = re.escape(argument)
      message = re.sub(rf'(?<![\w-]){name}=', f'--{flag}=', message)
      message = re.sub(rf'^{name}(?= )', f'--{flag}', message)
    return message


NO_ARGUMENTS = ArgumentFlags({})


def fail(message: str) -> None:
  """Prints `<binary>: error: <message>` (one line) and exits with 2."""
  name = os.path.basename(sys.argv[0]) if sys.argv else 'estimator_migrate'
  first = ' '.join(str(message).split())
  print(f'{name}: error: {first}', file=sys.stderr, flush=True)
  sys.exit(USAGE_ERROR)


def _parse_flags(argv: Sequence[str]) -> list[str]:
  try:
    return flags.FLAGS(argv)
  except flags.Error as e:
    fail(f'{e} (see --help)')
  return []  # not reached


def _with_exit_codes(
    main: Callable[..., int | None], arguments: ArgumentFlags
) -> Callable[..., int]:
  @functools.wraps(main)
  def wrapped(argv: Sequence[str]) -> int:
    try:
      return main(argv) or 0
    except app.UsageError as e:
      fail(f'{e} (see --help)')
    except errors.MigrationError as e:
      fail(arguments(str(e)))
    return USAGE_ERROR  # not reached

  return wrapped


def run(
    main: Callable[..., int | None],
    module_name: str,
    arguments: ArgumentFlags = NO_ARGUMENTS,
) -> None:
  """Runs `main` under absl with the module's docstring and key flags.

  Args:
    main: The absl main.
    module_name: The binary's module (`__name__`).
    arguments: Which flags set which library arguments: a `MigrationError`
      from `main` is reported with the flags named.
  """
  module = sys.modules[module_name]
  sys.modules['__main__'].__doc__ = module.__doc__
  for flag in flags.FLAGS.get_key_flags_for_module(module_name):
    flags.FLAGS.register_key_flag_for_module(sys.argv[0], flag)
  app.run(_with_exit_codes(main, arguments), flags_parser=_parse_flags)
