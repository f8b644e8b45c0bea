"""Runs every binary's absl main with one convention for output and exit codes.

Exit codes: 0 success, 1 a verdict (a binary's own, e.g. diverged), 2 bad
input or environment. Every error is one line on stderr naming the flag or
file and what to do, never a traceback or the whole flag help: absl's own
usage errors (an unknown flag, a malformed value, a missing required flag,
`app.UsageError` from main) would exit 1 after printing the help.

The library names its arguments in errors (`dataset='x' is not ...`,
`source is empty`) and carries their names on the error
(`MigrationError.arguments`); a binary's users know flags. Each binary
declares which of its flags set which argument (`ArgumentFlags`) and `run`
rewrites every `MigrationError` it reports, for each argument it carries:
`argument=` becomes `--flag=`, and a message that starts with the argument's
name starts with the flag. Nothing else in the message is read.

As a console script, absl would show neither the module's docstring nor its
flags in --help (both belong to pip's wrapper), so they are handed over.
--help (and --helpshort, --helpfull, --helpxml) exits 0, not absl's 1.

Quiet by default: a binary imports this module before TensorFlow, and the
import sets `TF_CPP_MIN_LOG_LEVEL=3` unless the caller set it, so TF's C++
start-up lines (CUDA factories, CPU features, TensorRT) are not printed;
TensorFlow's Python warnings (deprecations, e.g. from a `--config` module)
are hidden unless --verbosity is given. Ctrl-C (SIGINT) prints one line,
`<binary>: interrupted`, and exits 130, whether it comes while TensorFlow
loads or while the binary works (its `finally` clean-ups run first). Output
piped into a reader that stops early (`| head`) ends the binary quietly
with 141, as a process ended by SIGPIPE is reported.
"""

from collections.abc import Callable, Mapping, Sequence
import dataclasses
import functools
import logging as std_logging
import math
import os
import re
import sys

from absl import app
from absl import flags

from estimator_migrate import errors

USAGE_ERROR = 2
INTERRUPTED = 130  # 128 + SIGINT, as shells report a Ctrl-C
# 128 + SIGPIPE: the reader of the output went away (`... | head`).
BROKEN_PIPE = 141
# absl's --help flags exit 1 after printing the help to stdout.
_HELP_EXIT = 1


def _name() -> str:
  return os.path.basename(sys.argv[0]) if sys.argv else 'estimator_migrate'


def _interrupted() -> None:
  """Prints the one line of a Ctrl-C and exits 130 (no clean-up left)."""
  try:
    sys.stdout.flush()
  except (OSError, ValueError):
    pass
  print(f'{_name()}: interrupted', file=sys.stderr, flush=True)


def _excepthook(kind, value, trace) -> None:
  """A Ctrl-C outside `run` (while TensorFlow loads): one line, exit 130."""
  if issubclass(kind, KeyboardInterrupt):
    _interrupted()
    # Python would re-raise SIGINT at exit (status -2); the unwinding is done.
    os._exit(INTERRUPTED)
  _previous_excepthook(kind, value, trace)


# Before TensorFlow is imported, which is why binaries import this module
# first: its C++ start-up lines are not the binary's output. The caller's
# own setting wins.
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
_previous_excepthook = sys.excepthook
sys.excepthook = _excepthook


def require_positive_finite(holder: flags.FlagHolder) -> None:
  """Registers a check that a float flag is finite and > 0 (or unset)."""
  flags.register_validator(
      holder.name,
      lambda value: value is None or (math.isfinite(value) and value > 0),
      message=f'--{holder.name} must be a finite number greater than 0.',
  )


def require_new_or_directory(holder: flags.FlagHolder) -> None:
  """Registers a check that a path flag is unset, new, or a directory."""

  def valid(value: str | None) -> bool:
    import tensorflow as tf  # pylint: disable=g-import-not-at-top

    # Not at the top: this module is imported before TensorFlow (see above).
    return (
        not value or not tf.io.gfile.exists(value) or tf.io.gfile.isdir(value)
    )

  flags.register_validator(
      holder.name,
      valid,
      message=f'--{holder.name} names a file; give a directory.',
  )


@dataclasses.dataclass(frozen=True)
class ArgumentFlags:
  """How one binary names the library's arguments in its errors.

  Only the arguments an error carries (`MigrationError.arguments`) are
  rewritten, so a message is never searched for names it does not claim.

  Example:
    ARGUMENTS = console.ArgumentFlags.of('workdir', 'dataset', 'data_dir')
    console.run(main, __name__, arguments=ARGUMENTS)
  """

  flags: Mapping[str, str]  # library argument -> the flag that sets it
  # Library argument -> (regex, replacement) pairs for how a message spells
  # it other than `argument=`, applied first to the errors that carry it:
  # e.g. 'overwrite': `overwrite=True` -> `--overwrite`.
  special: Mapping[str, tuple[tuple[str, str], ...]] = dataclasses.field(
      default_factory=dict
  )

  @classmethod
  def of(
      cls,
      *same: str,
      special: Mapping[str, tuple[tuple[str, str], ...]] | None = None,
      **renamed: str,
  ) -> 'ArgumentFlags':
    """Arguments whose flag has their name, then `argument='flag'` pairs."""
    return cls({**{name: name for name in same}, **renamed}, special or {})

  def __call__(self, error: errors.MigrationError) -> str:
    """The message of `error` with each argument it carries named as a flag."""
    message = str(error)
    for argument in error.arguments:
      for pattern, replacement in self.special.get(argument, ()):
        message = re.sub(pattern, replacement, message)
      flag = self.flags.get(argument)
      if flag is None:
        continue
      name = re.escape(argument)
      message = re.sub(rf'(?<![\w-]){name}=', f'--{flag}=', message)
      message = re.sub(rf'^{name}(?= )', f'--{flag}', message)
    return message


NO_ARGUMENTS = ArgumentFlags({})


def _one_line(message: str) -> str:
  return ' '.join(str(message).split())


def error(message: str) -> None:
  """Prints `<binary>: error: <message>` (one line); the caller goes on.

  For a binary that reports several failures (one line each) and exits 2
  once at the end, as the rewrite does for files it cannot rewrite.
  """
  print(f'{_name()}: error: {_one_line(message)}', file=sys.stderr, flush=True)


def fail(message: str) -> None:
  """Prints `<binary>: error: <message>` (one line) and exits with 2."""
  error(message)
  sys.exit(USAGE_ERROR)


def warn(message: str) -> None:
  """Prints `<binary>: warning: <message>` (one line); the run goes on."""
  print(
      f'{_name()}: warning: {_one_line(message)}', file=sys.stderr, flush=True
  )


def _parse_flags(argv: Sequence[str]) -> list[str]:
  try:
    return flags.FLAGS(argv)
  except flags.Error as e:
    fail(f'{e} (see --help)')
  except SystemExit as e:
    # Only absl's help flags exit while parsing: the help was asked for and
    # printed, which is a success.
    if e.code == _HELP_EXIT:
      sys.exit(0)
    raise
  return []  # not reached


def _quiet_python_warnings() -> None:
  """TensorFlow's Python warnings only with --verbosity (e.g. -v 0)."""
  if not flags.FLAGS['verbosity'].present:
    std_logging.getLogger('tensorflow').setLevel(std_logging.ERROR)


def _with_exit_codes(
    main: Callable[..., int | None], arguments: ArgumentFlags
) -> Callable[..., int]:
  @functools.wraps(main)
  def wrapped(argv: Sequence[str]) -> int:
    _quiet_python_warnings()
    try:
      code = main(argv) or 0
      # Here, not at exit: a reader gone (`| head`) is then a BrokenPipeError
      # that `run` reports, not an error Python prints while shutting down.
      sys.stdout.flush()
      return code
    except app.UsageError as e:
      fail(f'{e} (see --help)')
    except errors.MigrationError as e:
      fail(arguments(e))
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
  try:
    app.run(_with_exit_codes(main, arguments), flags_parser=_parse_flags)
  except KeyboardInterrupt:
    _interrupted()
    sys.exit(INTERRUPTED)
  except BrokenPipeError:
    # The reader stopped reading (`| head`): nothing to report. Python
    # would flush stdout again at exit and print a second error.
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(BROKEN_PIPE)
