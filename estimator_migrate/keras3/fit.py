"""Continues training canned exports: `load(compile=True)`, one epoch of fit.

argv[1]: JSON list of [export directory, features .npz, labels .npz, batch
size, output .npz]; argv[2]: JSON bool, record each batch's loss. Each
output holds every variable by checkpoint name. Replies with [output,
losses, the epoch's loss as fit reports it] per job.
"""

import json
import os
import sys

import jobs
import keras
import numpy as np


def main(argv):
  record_losses = json.loads(argv[1])
  result = []
  for directory, features, labels, batch_size, output in json.loads(argv[0]):
    module = jobs.load_export(directory, len(result))
    model = module.load(directory, compile=True)
    with np.load(features) as f:
      inputs = module.select_features(model, {k: f[k] for k in f.files})
    with np.load(labels) as f:
      targets = {k: f[k] for k in f.files}
    losses = []  # each batch's loss on the weights it starts from

    def record(
        batch,
        logs=None,
        model=model,
        inputs=inputs,
        targets=targets,
        batch_size=batch_size,
        losses=losses,
    ):
      # Computed here, not read from the logs: those hold a running mean, of
      # the loss tracker a custom train_step may leave at 0. Inference mode:
      # no batch-norm update, so the training loss when there is no dropout.
      del logs
      part = slice(batch * batch_size, (batch + 1) * batch_size)
      x = {k: v[part] for k, v in inputs.items()}
      y = {k: v[part] for k, v in targets.items()}
      losses.append(
          float(
              model.compute_loss(
                  x=x, y=y, y_pred=model(x, training=False), training=False
              )
          )
      )

    callbacks = [keras.callbacks.LambdaCallback(on_train_batch_begin=record)]
    history = model.fit(
        inputs,
        targets,
        batch_size=batch_size,
        epochs=1,
        shuffle=False,
        verbose=0,
        callbacks=callbacks if record_losses else [],
    )
    with open(os.path.join(directory, 'spec.json')) as f:
      names = module._variables_by_name(model, json.load(f))  # pylint: disable=protected-access
    np.savez(output, **{n: np.asarray(v.numpy()) for n, v in names.items()})
    result.append([output, losses, history.history['loss'][-1]])
  return result


if __name__ == '__main__':
  jobs.reply(main(sys.argv[1:]))
