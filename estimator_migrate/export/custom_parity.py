"""A custom export predicting and training on in the modern environment.

The counterpart of `parity.modern_predict` / `parity.modern_continue` for
`keras_model_to_keras` exports, whose models are the user's own: outputs
of any structure (flattened in order as `output_<i>`) and labels as the
model's `fit` takes them. One subprocess serves every job.
"""

from collections.abc import Mapping, Sequence
import os

import numpy as np

from estimator_migrate.export import modern


def modern_run(
    jobs: Sequence[
        tuple[
            str,
            Mapping[str, np.ndarray],
            np.ndarray | Mapping[str, np.ndarray] | None,
            int,
        ]
    ],
) -> list[dict[str, np.ndarray]]:
  """Runs each export in the modern environment, in one process.

  Each job is (directory, features, labels or None, batch size); labels
  are one array, or arrays by output key. Without
  labels: `load(directory)` predicts on the features (and `saved_model/`,
  if written, serves them under `saved_model/output_<i>`). With labels:
  `load(directory, compile=True)` then one epoch of `fit` with
  `shuffle=False`; the result is every weight by checkpoint name.

  Raises:
    MigrationError: No modern environment, or loading or training failed.
  """
  return modern.run_jobs(
      'custom_run.py',
      [
          (
              os.path.abspath(directory),
              features,
              labels
              if labels is None or isinstance(labels, Mapping)
              else {'labels': labels},
              batch_size,
              modern.OUTPUT,
          )
          for directory, features, labels, batch_size in jobs
      ],
  )
