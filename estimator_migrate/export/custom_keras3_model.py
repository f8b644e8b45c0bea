"""A custom estimator's Keras model on Keras 3, its trained state restored.

Written by `estimator-migrate-export --build_model=...`. The model is your
own: `spec.json` names your builder (`module:function`) and its params; this
file imports it, builds the model on Keras 3 and restores `weights.npz`, the
estimator checkpoint's tensors matched to the model's weights by position
(trainable weights in order, then non-trainable ones). It needs `keras`,
`numpy`, the standard library and what your builder imports.

  import model
  m = model.load()
  predictions = m(model.select_features(m, features))
  m = model.load(compile=True)   # loss, optimizer and its state restored
  m.fit(model.select_features(m, features), labels, shuffle=False)
"""

import importlib
import inspect
import json
import os
import sys

import keras
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OPTIMIZERS = {
    'Adam': keras.optimizers.Adam,
    'Ftrl': keras.optimizers.Ftrl,
    'SGD': keras.optimizers.SGD,
}


def _builder(spec):
  """Your builder, imported by its reference (`module:function`)."""
  module_name, _, attribute = spec['builder'].partition(':')
  try:
    module = importlib.import_module(module_name)
  except ImportError:
    # Where the builder was found at export time, searched last so that it
    # cannot shadow this environment's packages.
    if spec['builder_path'] not in sys.path:
      sys.path.append(spec['builder_path'])
    module = importlib.import_module(module_name)
  builder = module
  for part in attribute.split('.'):
    builder = getattr(builder, part)
  return builder


def build_model(spec):
  """Your model with fresh weights, built by your builder on Keras 3."""
  builder = _builder(spec)
  positional = [
      p
      for p in inspect.signature(builder).parameters.values()
      if p.kind
      in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
  ]
  return builder(dict(spec['params'])) if positional else builder()


def _variables_by_name(model, spec):
  """Checkpoint name -> the Keras 3 variable, matched by position.

  Raises:
    ValueError: The Keras 3 model's weights differ from the checkpoint's
      (count or shape), naming the position.
  """
  out = {}
  pairs = (
      ('trainable', model.trainable_weights),
      ('non_trainable', model.non_trainable_weights),
  )
  for kind, variables in pairs:
    names = spec[kind]
    if len(variables) != len(names):
      raise ValueError(
          f'{spec["builder"]} builds {len(variables)} {kind} weights on'
          f' Keras 3, the checkpoint has {len(names)} ({names}): the builder'
          ' must build the same layers on Keras 3 as it did for the'
          ' estimator.'
      )
    for position, (variable, name) in enumerate(
        zip(variables, names, strict=True)
    ):
      shape = list(spec['shapes'][name])
      if list(variable.shape) != shape:
        raise ValueError(
            f'{kind} weight {position}: {variable.path} is'
            f" {list(variable.shape)} on Keras 3, the checkpoint's {name}"
            f' is {shape}.'
        )
      out[name] = variable
  return out


def _loss(spec, model):
  if spec['loss'] is not None:
    return keras.losses.get(spec['loss'])
  if getattr(model, 'loss', None) is not None:
    return model.loss
  raise ValueError(
      'compile=True needs the loss: export with loss= (the loss the'
      ' estimator trained with), or compile the model in the builder.'
  )


def _compile(model, spec, weights, variables):
  """Compiles with the estimator's loss and optimizer, state restored."""
  if spec['compile_unavailable']:
    raise ValueError(
        'compile=True is not available for this export: '
        + spec['compile_unavailable']
        + '. Call load(compile=False) and compile the model yourself.'
    )
  (entry,) = spec['optimizers']
  optimizer = OPTIMIZERS[entry['class']](**entry['config'])
  optimizer.build(model.trainable_variables)
  optimizer.iterations.assign(entry['iterations'])
  for attribute, keys in entry['slots'].items():
    for name, key in zip(entry['variables'], keys, strict=True):
      index = optimizer._get_variable_index(variables[name])  # noqa: SLF001
      getattr(optimizer, attribute)[index].assign(weights[key])
  model.compile(optimizer=optimizer, loss=_loss(spec, model))


def select_features(model, features):
  """The model's inputs from a feature dict, as the estimator routed them.

  One input takes its feature (by input name, or the only feature); several
  take a dict by input name.
  """
  names = [t.name for t in model.inputs]
  if not isinstance(features, dict):
    return features
  if len(names) == 1:
    if names[0] in features:
      return features[names[0]]
    (value,) = features.values()
    return value
  return {name: features[name] for name in names}


def load(directory=None, compile=False):  # noqa: A002 (Keras' own name)
  """Builds your model and restores the estimator's trained weights.

  Args:
    directory: The exported directory (default: the one holding this file).
    compile: Also compile with the estimator's loss and optimizer, its
      slots, iterations and hyperparameters restored, so that `fit`
      continues where the estimator stopped.

  Returns:
    Your `keras.Model`, trained.
  """
  directory = directory or HERE
  with open(os.path.join(directory, 'spec.json'), encoding='utf-8') as f:
    spec = json.load(f)
  model = build_model(spec)
  variables = _variables_by_name(model, spec)
  with np.load(os.path.join(directory, 'weights.npz')) as weights:
    for name, variable in variables.items():
      variable.assign(weights[name])
    if compile:
      _compile(model, spec, weights, variables)
  return model
