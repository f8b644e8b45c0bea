"""The export's `saved_model/`: a serving SavedModel written on current TF.

Written in the modern environment (TensorFlow 2.21, Keras 3) by
`keras.Model.export` from the export's own `model.py`, so it serves exactly
the Keras 3 model: signature `serving_default` (and `serve`) taking the
feature dict, returning the prediction keys. One subprocess writes any
number of directories.
"""

from collections.abc import Sequence
import json
import os

from estimator_migrate.export import modern

DIRECTORY = 'saved_model'

_SCRIPT = """
import shutil
directories = json.loads(sys.argv[1])
result = []
for directory in directories:
  module = load_export(directory, len(result))
  model = module.load(directory)
  target = os.path.join(directory, 'saved_model')
  temporary = target + '.tmp'
  shutil.rmtree(temporary, ignore_errors=True)
  model.export(temporary, verbose=False)
  os.rename(temporary, target)
  result.append(target)
"""


def write_saved_models(directories: Sequence[str]) -> list[str]:
  """Writes `<directory>/saved_model` for each export directory.

  Each is written under a temporary name and renamed when complete.

  Returns:
    The SavedModel paths.

  Raises:
    MigrationError: No modern environment, or the export failed there (one
      line: its last error line, and what to do).
  """
  paths = [os.path.abspath(d) for d in directories]
  return modern.run(
      modern.LOAD_EXPORT + _SCRIPT + modern.result_line(),
      json.dumps(paths),
      what=f'writing {DIRECTORY}/',
      advice=(
          'Export without saved_model=True, then call load() from the'
          " export's model.py in the modern environment to see the whole"
          ' error.'
      ),
  )
