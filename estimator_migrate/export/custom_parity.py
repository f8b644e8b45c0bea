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

_PREDICT = """
import keras
import tensorflow as tf
result = []
for directory, features, labels, batch_size, output in json.loads(sys.argv[1]):
  module = load_export(directory, len(result))
  model = module.load(directory, compile=labels is not None)
  with np.load(features) as f:
    inputs = module.select_features(model, {k: f[k] for k in f.files})
  if labels is None:
    out = {f'output_{i}': np.asarray(v) for i, v in
           enumerate(keras.tree.flatten(model(inputs, training=False)))}
    served = os.path.join(directory, 'saved_model')
    if os.path.isdir(served):
      loaded = tf.saved_model.load(served)  # kept: serve uses its variables
      flat = keras.tree.flatten(loaded.serve(inputs))
      out.update({f'saved_model/output_{i}': np.asarray(v)
                  for i, v in enumerate(flat)})
  else:
    with np.load(labels) as f:
      y = f['labels']
    model.fit(inputs, y, batch_size=batch_size, epochs=1, shuffle=False,
              verbose=0)
    with open(os.path.join(directory, 'spec.json')) as f:
      names = module._variables_by_name(model, json.load(f))
    out = {n: np.asarray(v.numpy()) for n, v in names.items()}
  np.savez(output, **out)
  result.append(output)
"""


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
    outputs = modern.run(
        modern.LOAD_EXPORT + _PREDICT + modern.result_line(),
        json.dumps(specs),
    )
    results = []
    for output in outputs:
      with np.load(output) as f:
        results.append({k: f[k] for k in f.files})
    return results
