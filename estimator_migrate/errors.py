"""Errors raised by estimator_migrate.

Every error says what was received and what to do; binaries print the message
and exit with status 2 instead of a traceback.
"""

from collections.abc import Sequence


class MigrationError(Exception):
  """Base class of every error this package raises on bad input.

  A message that names an argument of the call that failed (`source=... is
  not a checkpoint`, `target is empty`) also carries that argument's name, so
  that a binary names the flag that sets it (`cli.console.ArgumentFlags`)
  without reading the message.

  Example:
    raise errors.CheckpointError(
        f'source={source!r} does not exist.', argument='source'
    )

  Attributes:
    arguments: The names of the arguments the message names as `name=` or
      starts with (`name ...`), in the order given; `()` for none.
  """

  def __init__(self, message: str, *, argument: str | Sequence[str] = ()):
    """Initializes the error; `str(error)` is `message`.

    Args:
      message: What was received and what to do.
      argument: The argument the message names, or several names.
    """
    super().__init__(message)
    self.arguments: tuple[str, ...] = (
        (argument,) if isinstance(argument, str) else tuple(argument)
    )


class DataError(MigrationError):
  """A data set cannot be loaded (unknown, not prepared, bad split)."""


class ModelError(MigrationError):
  """A Keras model or model_fn argument cannot be used as given."""


class TranslationError(MigrationError):
  """A v1 argument or optimizer has no faithful v2 equivalent."""


class CheckpointError(MigrationError):
  """A checkpoint is missing, corrupt, or cannot be converted as asked."""
