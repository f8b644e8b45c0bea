"""A custom export predicting and training on in the modern environment.

The counterpart of `parity.modern_predict` / `parity.modern_continue` for
`keras_model_to_keras` exports, whose models are the user's own: outputs
of any structure (flattened in order as `output_<i>`) and labels as the
model's `fit` takes them. One subprocess serves every job.
"""

from collections.abc import Mapping, Sequence
import json
import os
import tempfile

import numpy as np

from estimator_migrate.export import modern


def modern_run(
    jobs: Sequence[
        tuple[str, Mapping[str, np.ndarray], np.ndarray | None, int]
    ],
) -> list[dict[str, np.ndarray]]:
  """Runs each export in the modern environment, in one process.

  Each job is (directory, features, labels or None, batch size). Without
  labels: `load(directory)` predicts on the features (and `saved_model/`,
  if written, serves them under `saved_model/output_<i>`). With labels:
  `load(directory, compile=True)` then one epoch of `fit` with
  `shuffle=False`; the result is every weight by checkpoint name.

  Raises:
    MigrationError: No modern environment, or loading or training failed.
  """
  with tempfile.TemporaryDirectory() as scratch:
    specs = []
    for i, (directory, features, labels, batch_size) in enumerate(jobs):
      features_path = os.path.join(scratch, f'features_{i}.npz')
      np.savez(features_path, **{k: np.asarray(v) for k, v in features.items()})
      labels_path = None
      if labels is not None:
        labels_path = os.path.join(scratch, f'labels_{i}.npz')
        np.savez(labels_path, labels=np.asarray(labels))
      output = os.path.join(scratch, f'result_{i}.npz')
      specs.append(
          [
              os.path.abspath(directory),
              features_path,
              labels_path,
              batch_size,
              output,
          ]
      )
    outputs = modern.run_file('custom_run.py', json.dumps(specs))
    results = []
    for output in outputs:
      with np.load(output) as f:
        results.append({k: f[k] for k in f.files})
    return results
