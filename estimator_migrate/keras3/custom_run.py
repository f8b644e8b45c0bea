"""Predicts with, or trains on, custom exports (the user's own Keras model).

argv[1]: JSON list of [export directory, features .npz, labels .npz or null,
batch size, output .npz]; the labels .npz holds `labels`, or an array per
output key. Without labels: `load()` predicts; outputs of any
structure are flattened in order as `output_<i>` (and `saved_model/`, if
written, serves them under `saved_model/output_<i>`). With labels:
`load(compile=True)` and one epoch of fit with `shuffle=False`; the output
holds every variable by checkpoint name. Replies with the output paths.
"""

import json
import os
import sys

import jobs
import keras
import numpy as np
import tensorflow as tf


def main(argv):
  result = []
  for directory, features, labels, batch_size, output in json.loads(argv[0]):
    module = jobs.load_export(directory, len(result))
    model = module.load(directory, compile=labels is not None)
    with np.load(features) as f:
      inputs = module.select_features(model, {k: f[k] for k in f.files})
    if labels is None:
      flat = keras.tree.flatten(model(inputs, training=False))
      out = {f'output_{i}': np.asarray(v) for i, v in enumerate(flat)}
      served = os.path.join(directory, 'saved_model')
      if os.path.isdir(served):
        loaded = tf.saved_model.load(served)  # kept: serve uses its variables
        flat = keras.tree.flatten(loaded.serve(inputs))
        out.update(
            {
                f'saved_model/output_{i}': np.asarray(v)
                for i, v in enumerate(flat)
            }
        )
    else:
      with np.load(labels) as f:  # one array, or arrays by output key
        y = f['labels'] if f.files == ['labels'] else {k: f[k] for k in f.files}
      model.fit(
          inputs, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0
      )
      with open(os.path.join(directory, 'spec.json')) as f:
        names = module._variables_by_name(model, json.load(f))  # pylint: disable=protected-access
      out = {n: np.asarray(v.numpy()) for n, v in names.items()}
    np.savez(output, **out)
    result.append(output)
  return result


if __name__ == '__main__':
  jobs.reply(main(sys.argv[1:]))
