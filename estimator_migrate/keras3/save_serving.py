"""Writes `<export>/saved_model`: `keras.Model.export` of the export's model.

argv[1]: JSON list of export directories. Each SavedModel is written under a
temporary name and renamed when complete. Replies with the SavedModel paths.
"""

import json
import os
import shutil
import sys

import jobs


def main(argv):
  result = []
  for directory in json.loads(argv[0]):
    module = jobs.load_export(directory, len(result))
    model = module.load(directory)
    target = os.path.join(directory, 'saved_model')
    temporary = target + '.tmp'
    shutil.rmtree(temporary, ignore_errors=True)
    model.export(temporary, verbose=False)
    os.rename(temporary, target)
    result.append(target)
  return result


if __name__ == '__main__':
  jobs.reply(main(sys.argv[1:]))
