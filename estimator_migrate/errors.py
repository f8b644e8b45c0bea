"""Errors raised by estimator_migrate.

Every error says what was received and what to do; binaries print the message
and exit with status 2 instead of a traceback.
"""


class MigrationError(Exception):
  """Base class of every error this package raises on bad input."""


class DataError(MigrationError):
  """A data set cannot be loaded (unknown, not prepared, bad split)."""


class ModelError(MigrationError):
  """A Keras model or model_fn argument cannot be used as given."""


class TranslationError(MigrationError):
  """A v1 argument or optimizer has no faithful v2 equivalent."""


class CheckpointError(MigrationError):
  """A checkpoint is missing, corrupt, or cannot be converted as asked."""
