"""Keras 3: code that runs only on current TensorFlow (the modern side).

The last stop. Nothing here imports the rest of the package, and the TF 2.15
side never runs these files as its own code (it reads only `jobs.RESULT`,
the reply's prefix): it copies `canned_model.py` or
`custom_model.py` into an export as its `model.py`, and starts the others in
the modern environment (`estimator_migrate.export.modern`): `predict` and
`fit` (canned exports predicting and training on, for the parity checks),
`custom_run` (the same for custom exports), `save_serving` (an export's
`saved_model/`), `serving_proof` (it and the estimator's SavedModel served
side by side), with `jobs` (loading an export, replying) shared by them;
and `cluster_fit` (an export's `fit` on a loopback multi-worker cluster).
"""

import os


def path(name: str) -> str:
  """The path of file `name` of this folder (read as text, or run)."""
  return os.path.join(os.path.dirname(os.path.abspath(__file__)), name)
