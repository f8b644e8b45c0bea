"""console.ArgumentFlags: the arguments an error carries become flags."""

import pickle

from absl.testing import absltest
from absl.testing import parameterized

from estimator_migrate import errors
from estimator_migrate.cli import console

_DEMO = console.ArgumentFlags.of('workdir', 'dataset', 'data_dir')
_CONVERT = console.ArgumentFlags.of(
    'source',
    'target',
    special={'overwrite': ((r'\boverwrite=True', '--overwrite'),)},
    model_dir='target_dir',
)


class ArgumentFlagsTest(parameterized.TestCase):

  @parameterized.named_parameters(
      (
          'leading',
          _DEMO,
          'workdir=/x is a file',
          'workdir',
          '--workdir=/x is a file',
      ),
      (
          'inside',
          _DEMO,
          "pass data_dir=DIR, or use dataset='uci_digits'",
          ('data_dir', 'dataset'),
          "pass --data_dir=DIR, or use --dataset='uci_digits'",
      ),
      # A flag of another program, and a longer name, stay as they are.
      (
          'other_commands_untouched',
          _DEMO,
          '`tfds build x --data_dir=DIR`; my_data_dir=1',
          'data_dir',
          '`tfds build x --data_dir=DIR`; my_data_dir=1',
      ),
      (
          'name_first',
          _CONVERT,
          'source is empty: give',
          'source',
          '--source is empty: give',
      ),
      ('renamed', _CONVERT, 'model_dir=/m', 'model_dir', '--target_dir=/m'),
      (
          'special',
          _CONVERT,
          'or pass overwrite=True.',
          'overwrite',
          'or pass --overwrite.',
      ),
      (
          'word_not_argument',
          _CONVERT,
          'the source is v1',
          'source',
          'the source is v1',
      ),
      ('none', console.NO_ARGUMENTS, 'source=/x', 'source', 'source=/x'),
      # Only what the error carries is rewritten: the message is not read
      # for names it does not claim.
      (
          'not_carried',
          _CONVERT,
          'source=/x, target=/y',
          'target',
          'source=/x, --target=/y',
      ),
      ('carries_nothing', _CONVERT, 'source=/x', (), 'source=/x'),
      (
          'special_not_carried',
          _CONVERT,
          'pass overwrite=True.',
          'source',
          'pass overwrite=True.',
      ),
      # An argument this binary has no flag for stays as the library says.
      (
          'unknown_argument',
          _DEMO,
          'jobs=0: at least 1',
          'jobs',
          'jobs=0: at least 1',
      ),
  )
  def test_message(self, arguments, library, carried, binary):
    error = errors.MigrationError(library, argument=carried)
    self.assertEqual(arguments(error), binary)


class MigrationErrorTest(absltest.TestCase):

  def test_message_is_unchanged(self):
    error = errors.CheckpointError('source=/x is empty', argument='source')
    self.assertEqual(str(error), 'source=/x is empty')
    self.assertEqual(error.args, ('source=/x is empty',))
    self.assertEqual(error.arguments, ('source',))

  def test_several_arguments_and_none(self):
    self.assertEqual(
        errors.DataError('m', argument=('data_dir', 'dataset')).arguments,
        ('data_dir', 'dataset'),
    )
    self.assertEqual(errors.DataError('m').arguments, ())

  def test_pickles_with_its_arguments(self):
    # Errors cross process boundaries (the rewrite's worker pool).
    error = pickle.loads(
        pickle.dumps(errors.TranslationError('jobs=0', argument='jobs'))
    )
    self.assertIsInstance(error, errors.TranslationError)
    self.assertEqual((str(error), error.arguments), ('jobs=0', ('jobs',)))


if __name__ == '__main__':
  absltest.main()
