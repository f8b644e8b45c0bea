r"""Rewrites v1 canned-estimator code as v2 code that trains the same.

Finds every canned-estimator construction (DNN, Linear, DNNLinearCombined,
Baseline; Classifier, Regressor, Estimator) however it is imported, and
rewrites it for TF 2 with the toolkit's tables: v1 optimizers become Keras
legacy optimizers with every hyperparameter carried, string optimizers get
the v1 learning rate, v1's SUM loss reduction is made explicit, partitioners
are removed with a comment; `model_to_estimator` becomes the toolkit's
`to_estimator`. With --to_keras, each canned construction bound to a name
or returned also gets its Keras 3 exit: `<estimator>.to_keras`, a
`functools.partial` of `estimator_migrate.export.canned_to_keras` with the
construction's arguments, which trains and loads nothing until
`<estimator>.to_keras().save(DIR)` is called after training. Values not
visible in the source are never guessed: the construction is left as it is
and reported (or, with --runtime_translate, translated when it runs). A
second run changes nothing.

Nothing is written without --in_place. Files are read and written in the
encoding their coding line declares (else UTF-8); in place, each changed file
is replaced atomically keeping its mode, owner and symbolic links (the real
file is written); a file with several hard links, a read-only file and a file
in a read-only directory are refused. Each real file is read once, however
many links reach it. A file that names nothing the rewrite acts on (no
`tensorflow`, no `tf`, ...) is read but not parsed with libcst; the rest are
shared among --jobs worker processes (default: one per usable core).

Exit status: 0 done (constructions left for you are listed on stderr and in
the report); 2 a bad path (nothing read), or some files could not be read,
parsed or written: one `error:` line each, those files left as they were,
every other file rewritten.

Example:
  estimator-migrate-rewrite trainer/ --diff --report=rewrite.md
  estimator-migrate-rewrite trainer/model.py --in_place --exact
  estimator-migrate-rewrite trainer/ --in_place --to_keras
  estimator-migrate-rewrite monorepo/ --diff --jobs=4
  bazel run //estimator_migrate/cli:rewrite -- $PWD/trainer --diff
"""

from collections.abc import Sequence
import sys

# First: it quiets TensorFlow, which must not be loaded yet.
from estimator_migrate.cli import console  # isort: split

from absl import flags

from estimator_migrate import errors
from estimator_migrate.rewrite import files
from estimator_migrate.rewrite import transformer

_IN_PLACE = flags.DEFINE_bool(
    'in_place', False, 'Replace the files (atomically); default: write nothing.'
)
_DIFF = flags.DEFINE_bool('diff', False, 'Print a unified diff of the changes.')
_REPORT = flags.DEFINE_string(
    'report', None, 'Write the Markdown report (every edit, file:line) here.'
)
_EXACT = flags.DEFINE_bool(
    'exact',
    False,
    'Use the v1-exact compat optimizers (RMSPropV1, ...) where Keras differs.',
)
_RUNTIME_TRANSLATE = flags.DEFINE_bool(
    'runtime_translate',
    False,
    'Translate constructions whose values are not in the source when they run'
    ' (estimator_migrate.tf2.canned.make_v2_estimator) instead of leaving them.',
)

_TO_KERAS = flags.DEFINE_bool(
    'to_keras',
    False,
    'After each canned construction, add its Keras 3 exit'
    ' (<estimator>.to_keras().save(DIR) exports it; see docs/rewrite.md).',
)

_JOBS = flags.DEFINE_integer(
    'jobs',
    None,
    'Worker processes; default: one per usable core. 1 rewrites in one'
    ' process (a tree under 256 KiB always is). Any number gives the same'
    ' report.',
    lower_bound=1,
)


def main(argv: Sequence[str]) -> int:
  paths = argv[1:]
  if not paths:
    console.fail('name at least one PATH (a .py file or a directory).')
  if _REPORT.value:  # before any file is touched; one line, exit 2 (console)
    files.check_new_file(_REPORT.value, '--report')
  try:
    result = files.rewrite_paths(
        paths,
        in_place=_IN_PLACE.value,
        options=transformer.Options(
            exact=_EXACT.value,
            runtime_translate=_RUNTIME_TRANSLATE.value,
            to_keras=_TO_KERAS.value,
        ),
        jobs=_JOBS.value,
    )
  except errors.MigrationError as e:
    console.fail(str(e))
  if _DIFF.value:
    sys.stdout.write(files.diff(result))
  if _REPORT.value:  # a MigrationError here is one line, exit 2 (console)
    files.write_file(_REPORT.value, result.markdown(), '--report')
  for edit in result.left:
    console.warn(
        f'{edit.path}:{edit.line}: {edit.argument} left unchanged: {edit.why}'
    )
  for failure in result.failures:
    console.error(failure.message)
  print(result.summary())
  return 2 if result.failures else 0


def run() -> None:
  """Console-script entry point."""
  console.run(main, __name__)


if __name__ == '__main__':
  run()
