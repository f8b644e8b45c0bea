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
  return modern.run_file(
      'save_serving.py',
      json.dumps(paths),
      what=f'writing {DIRECTORY}/',
      advice=(
          'Export without saved_model=True, then call load() from the'
          " export's model.py in the modern environment to see the whole"
          ' error.'
      ),
      advice_arguments=('saved_model',),
  )
