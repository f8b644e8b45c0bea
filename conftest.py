"""pytest set-up so that absltest/tf.test cases run under pytest as under Bazel."""

from absl import flags


def pytest_configure(config):
  del config
  # absltest parses flags in main(); pytest never calls it, and helpers such as
  # create_tempdir() read --test_tmpdir.
  if not flags.FLAGS.is_parsed():
    flags.FLAGS(['pytest'], known_only=True)


def pytest_collection_modifyitems(config, items):
  del config
  # tf.test.TestCase.test_session is a deprecated context manager that pytest
  # would collect as a test and report as skipped; it is not a test.
  items[:] = [item for item in items if item.name != 'test_session']
