"""console.ArgumentFlags: the library's argument names become flags."""

from absl.testing import absltest
from absl.testing import parameterized

from estimator_migrate.cli import console

_DEMO = console.ArgumentFlags.of('workdir', 'dataset', 'data_dir')
_CONVERT = console.ArgumentFlags.of(
    'source',
    'target',
    special=((r'\boverwrite=True', '--overwrite'),),
    model_dir='target_dir',
)


class ArgumentFlagsTest(parameterized.TestCase):

  @parameterized.named_parameters(
      ('leading', _DEMO, 'workdir=/x is a file', '--workdir=/x is a file'),
      (
          'inside',
          _DEMO,
          "pass data_dir=DIR, or use dataset='uci_digits'",
          "pass --data_dir=DIR, or use --dataset='uci_digits'",
      ),
      # A flag of another program, and a longer name, stay as they are.
      (
          'other_commands_untouched',
          _DEMO,
          '`tfds build x --data_dir=DIR`; my_dataset=1',
          '`tfds build x --data_dir=DIR`; my_dataset=1',
      ),
      (
          'name_first',
          _CONVERT,
          'source is empty: give',
          '--source is empty: give',
      ),
      ('renamed', _CONVERT, 'model_dir=/m', '--target_dir=/m'),
      ('special', _CONVERT, 'or pass overwrite=True.', 'or pass --overwrite.'),
      ('word_not_argument', _CONVERT, 'the source is v1', 'the source is v1'),
      ('none', console.NO_ARGUMENTS, 'source=/x', 'source=/x'),
  )
  def test_message(self, arguments, library, binary):
    self.assertEqual(arguments(library), binary)


if __name__ == '__main__':
  absltest.main()
