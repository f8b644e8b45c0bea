"""The export's `saved_model/`: a serving SavedModel written on current TF.

Written in the modern environment (TensorFlow 2.21, Keras 3) from the
export's own `model.py` (`load()`), so it serves exactly the Keras 3 model.
A canned export serves the estimator's signatures as spec.json's `serving`
section records them (`signatures.py`; keras3/serving_signatures.py writes
them: the same keys, method names, inputs and outputs as the estimator's
own SavedModel) and `serving_raw` taking the feature dict; an export
without that section (custom, or a Baseline without a receiver function)
gets `keras.Model.export`'s `serving_default` taking the feature dict. One
subprocess writes any number of directories.
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
