"""Predicts with canned exports (and their saved_model/) on given features.

argv[1]: JSON list of [export directory, features .npz, output .npz]. Each
output holds the model's prediction keys (strings as bytes) and, when the
export has `saved_model/`, the outputs of its feature-dict signature
(`serving_raw`, else `serving_default`) under `saved_model/<key>`. Replies
with the output paths.
"""

import json
import os
import sys

import jobs
import numpy as np
import tensorflow as tf


def _array(value):
  value = np.asarray(value)
  return value.astype(bytes) if value.dtype == object else value


def main(argv):
  result = []
  for directory, features, output in json.loads(argv[0]):
    module = jobs.load_export(directory, len(result))
    model = module.load(directory)
    with np.load(features) as f:
      inputs = module.select_features(model, {k: f[k] for k in f.files})
    predictions = model(inputs, training=False)
    out = {k: _array(v) for k, v in predictions.items()}
    served = os.path.join(directory, 'saved_model')
    if os.path.isdir(served):
      signatures = tf.saved_model.load(served).signatures
      serve = signatures.get('serving_raw') or signatures['serving_default']
      out.update(
          {'saved_model/' + k: _array(v) for k, v in serve(**inputs).items()}
      )
    np.savez(output, **out)
    result.append(output)
  return result


if __name__ == '__main__':
  jobs.reply(main(sys.argv[1:]))
