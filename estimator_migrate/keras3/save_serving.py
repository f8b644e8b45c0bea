"""Writes `<export>/saved_model`: the export's model, served.

argv[1]: JSON list of export directories. An export whose spec.json has a
`serving` section gets the estimator's signatures (`serving_signatures.write`:
the same keys, method names, inputs and outputs; a custom export's model
through its model.py's generated `serving_model`) and `serving_raw` (the
feature dict); any other export
`keras.Model.export`'s `serving_default` (the feature dict). Each SavedModel
is written under a temporary name and renamed when complete. Replies with
the SavedModel paths.
"""

import json
import os
import shutil
import sys

import jobs
import serving_signatures


def main(argv):
  result = []
  for directory in json.loads(argv[0]):
    module = jobs.load_export(directory, len(result))
    model = module.load(directory)
    serving = module.read_spec(directory).get('serving')
    target = os.path.join(directory, 'saved_model')
    temporary = target + '.tmp'
    shutil.rmtree(temporary, ignore_errors=True)
    if serving is None:
      model.export(temporary, verbose=False)
    else:
      # A custom export's model, wrapped to take the receiver's features.
      wrap = getattr(module, 'serving_model', None)
      if wrap is not None:
        model = wrap(model)
      serving_signatures.write(model, serving, temporary)
    os.rename(temporary, target)
    result.append(target)
  return result


if __name__ == '__main__':
  jobs.reply(main(sys.argv[1:]))
