"""A custom estimator's Keras model on Keras 3, its trained state restored.

Written by `estimator-migrate-export --build_model=...`. The model is your
own: `spec.json` names your builder (`module:function`) and its params; this
file imports it, builds the model on Keras 3 and restores `weights.npz`, the
estimator checkpoint's tensors matched to the model's weights by layer:
each weight's Keras 2 path in `spec.json` (`weight_paths`) names its layer
and weight (`zeta/kernel`), unnamed layers named as a fresh process names
them (`dense`, `dense_1`; the model is built so here too). Keras 2 and
Keras 3 order some models' weights differently (outputs in an OrderedDict:
Keras 2 sorts the keys, Keras 3 keeps their order), so positions alone
could swap weights of equal shapes. A spec without `weight_paths` (schema
version 1 or 2), or paths that do not name this model's layers one to one,
is matched by position (trainable weights in order, then non-trainable
ones), with a warning for the latter. It needs `keras`,
`numpy`, the standard library and what your builder imports.

`load()` first checks every file the export wrote (this file, `spec.json`
with the builder reference, `weights.npz`, ...) against `integrity.json`
(sha256 digests, written last) and refuses a directory that differs, before
it imports anything `spec.json` names. It then imports one module: the
builder's, by its name in `spec.json`, found on `sys.path` first, else in
`spec.json`'s `builder_path` (appended last); and whatever that imports.

  import model
  m = model.load()
  predictions = m(model.select_features(m, features))
  m = model.load(compile=True)   # loss, optimizer and its state restored
  m.fit(model.select_features(m, features), labels, shuffle=False)
"""

import collections
import contextlib
import hashlib
import importlib
import inspect
import json
import os
import sys
import warnings
import zipfile

import keras
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OPTIMIZERS = {
    'Adam': keras.optimizers.Adam,
    'Ftrl': keras.optimizers.Ftrl,
    'SGD': keras.optimizers.SGD,
}
INTEGRITY = 'integrity.json'
# The layout of the integrity record this file reads (estimator_migrate's
# `export/integrity.py` writes it, after every other file of the export).
INTEGRITY_FORMAT = 1
# Files every export has: a record that does not list them is refused.
INTEGRITY_REQUIRED = ('model.py', 'spec.json', 'weights.npz')
# The layout of spec.json this file reads: estimator_migrate's
# `export/spec.py` writes it (SCHEMA_VERSION there). A spec.json without
# `schema_version` was written by estimator_migrate 0.1, whose keys are
# version 1's. READABLE: the versions this file reads.
SCHEMA_VERSION = 3
READABLE = (1, 2, 3)
SPEC = 'spec.json'
WEIGHTS = 'weights.npz'
# Bytes of weights.npz read at a time when a large variable is restored.
RESTORE_BLOCK_BYTES = 16 << 20
# spec.json's keys (SPEC_SECTIONS: those it may lack).
SPEC_KEYS = (
    'builder',
    'builder_path',
    'checkpoint_format',
    'compile_unavailable',
    'loss',
    'non_trainable',
    'optimizers',
    'params',
    'shapes',
    'trainable',
)
SPEC_SECTIONS = ('serving', 'weight_paths')


class IntegrityError(ValueError):
  """The exported directory is not what the export wrote."""


def _sha256(path):
  digest = hashlib.sha256()
  with open(path, 'rb') as f:
    for chunk in iter(lambda: f.read(1 << 20), b''):
      digest.update(chunk)
  return digest.hexdigest()


def verify_integrity(directory):
  """Checks every file the export wrote against its `integrity.json`.

  `load()` calls this first, before it reads `spec.json` or imports
  anything `spec.json` names. Files added later (`__pycache__/`) are
  not checked.

  Raises:
    IntegrityError: The record is missing, unreadable or of another
      format, or a file it lists is missing or differs; the message names
      the file.
  """
  record_path = os.path.join(directory, INTEGRITY)
  redo = (
      'Export the model again with estimator-migrate-export; do not edit'
      ' the exported directory (copy model.py elsewhere to change it).'
  )
  try:
    with open(record_path, encoding='utf-8') as f:
      record = json.load(f)
  except FileNotFoundError:
    raise IntegrityError(
        f'{record_path} is missing: load() cannot tell whether the export'
        f' was changed or corrupted. {redo}'
    ) from None
  except (OSError, ValueError) as e:
    raise IntegrityError(
        f'{record_path} cannot be read ({e}). {redo}'
    ) from None
  files = record.get('files') if isinstance(record, dict) else None
  if (
      not isinstance(files, dict)
      or record.get('format') != INTEGRITY_FORMAT
      or record.get('algorithm') != 'sha256'
      or not set(INTEGRITY_REQUIRED) <= set(files)
  ):
    raise IntegrityError(
        f'{record_path} is not an integrity record of format'
        f' {INTEGRITY_FORMAT} listing {", ".join(INTEGRITY_REQUIRED)}.'
        f' {redo}'
    )
  for name, expected in sorted(files.items()):
    parts = name.split('/')
    if any(part in ('', '.', '..') for part in parts):
      raise IntegrityError(
          f'{record_path} lists {name!r}, not a file inside the export.'
          f' {redo}'
      )
    path = os.path.join(directory, *parts)
    try:
      actual = _sha256(path)
    except OSError as e:
      raise IntegrityError(
          f'{path} cannot be read ({e.strerror}): the export is incomplete.'
          f' {redo}'
      ) from None
    if actual != expected:
      raise IntegrityError(
          f'{path} differs from what the export wrote (sha256 {actual},'
          f' {INTEGRITY} records {expected}): it was changed or corrupted'
          f' after the export. {redo}'
      )


def _array_header(f):
  """The shape and dtype of the .npy member `f`, read up to its data."""
  major, _ = np.lib.format.read_magic(f)
  read = (
      np.lib.format.read_array_header_1_0
      if major == 1
      else np.lib.format.read_array_header_2_0
  )
  shape, fortran_order, dtype = read(f)
  if fortran_order:
    raise ValueError('weights.npz holds a Fortran-ordered array')
  return tuple(shape), dtype


def _restore(variable, archive, key):
  """Restores `variable` from `key` of weights.npz.

  An array larger than `RESTORE_BLOCK_BYTES` is read and written into the
  variable one block of rows at a time, in place (TensorFlow's strided
  slice assign): memory holds one block beside the variable, never the
  whole array. TensorFlow then copies a variable written in part on every
  dense read (copy-on-read, for concurrent sparse updates); nothing else
  writes it during the restore, so that is switched off again.
  """
  with archive.open(key + '.npy') as f:
    shape, dtype = _array_header(f)
    if shape != tuple(variable.shape):
      raise ValueError(
          f'{WEIGHTS} holds {key!r} of shape {shape}; the model needs'
          f' {tuple(variable.shape)}'
      )
    size = dtype.itemsize * int(np.prod(shape, dtype=np.int64))
    target = getattr(variable, 'value', variable)
    if (
        not shape
        or size <= RESTORE_BLOCK_BYTES
        or not hasattr(target, 'handle')  # not TensorFlow's
    ):
      variable.assign(np.frombuffer(f.read(size), dtype).reshape(shape))
      return
    import tensorflow  # only a large variable needs it

    rest = [int(n) for n in shape[1:]]
    want = np.dtype(target.dtype.as_numpy_dtype)
    row = size // shape[0]
    step = max(1, RESTORE_BLOCK_BYTES // max(row, 1))
    for start in range(0, shape[0], step):
      stop = min(shape[0], start + step)
      block = np.frombuffer(f.read((stop - start) * row), dtype)
      tensorflow.raw_ops.ResourceStridedSliceAssign(
          ref=target.handle,
          begin=[start] + [0] * len(rest),
          end=[stop, *rest],
          strides=[1] * len(shape),
          value=block.reshape((stop - start, *rest)).astype(want, copy=False),
      )
    tensorflow.raw_ops.DisableCopyOnRead(resource=target.handle)


def _restore_optimizer(optimizer, variables, slots, archive):
  """Builds `optimizer` for `variables` and restores its slots.

  `slots`: the optimizer's attribute holding a kind of slot (such as
  `_accumulators`) -> [(model variable, weights.npz key)]. Slots are built
  at zeros and filled in place (`_restore`): Keras would build an
  accumulator from a constant (the value times ones: twice the slot's
  memory at once). A slot weights.npz does not hold gets the value Keras
  gives it.
  """
  pending = []
  add = optimizer.add_variable_from_reference

  def add_at_zeros(reference_variable, name=None, initializer='zeros'):
    slot = add(reference_variable, name=name, initializer='zeros')
    if initializer != 'zeros':
      pending.append((slot, initializer))
    return slot

  optimizer.add_variable_from_reference = add_at_zeros
  try:
    optimizer.build(variables)
  finally:
    del optimizer.add_variable_from_reference
  restored = set()
  for attribute, pairs in slots.items():
    for variable, key in pairs:
      index = optimizer._get_variable_index(variable)  # noqa: SLF001
      slot = getattr(optimizer, attribute)[index]
      _restore(slot, archive, key)
      restored.add(id(slot))
  for slot, initializer in pending:
    if id(slot) not in restored:
      slot.assign(keras.initializers.get(initializer)(slot.shape, slot.dtype))


def read_spec(directory):
  """The directory's `spec.json`, if of the layout this file reads.

  Raises:
    ValueError: Another `schema_version`, or none and keys other than
      version 1's (one line: export again with a matching
      estimator_migrate).
  """
  path = os.path.join(directory, SPEC)
  with open(path, encoding='utf-8') as f:
    spec = json.load(f)
  version = spec.get('schema_version')
  keys = set(spec) - {'schema_version'}
  known = {*SPEC_KEYS, *SPEC_SECTIONS}
  if version is None and set(SPEC_KEYS) <= keys <= known:
    version = 1  # written by estimator_migrate 0.1
  if version not in READABLE or isinstance(version, bool):
    shown = 'unknown' if version is None else version
    raise ValueError(
        f'{path} is of spec schema version {shown}; this model.py reads'
        f' versions {", ".join(map(str, READABLE))}: export the model again'
        ' with a matching estimator_migrate.'
    )
  return spec


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
  with _fresh_layer_names():
    return builder(dict(spec['params'])) if positional else builder()


@contextlib.contextmanager
def _fresh_layer_names():
  """Keras' counters of unnamed layers at zero, as in a fresh process.

  The export recorded the names a fresh graph gives (`dense`, `dense_1`);
  built after other models, unnamed layers would be `dense_7`, ... Then the
  counters move past both, so layers made later keep unique names. (Keras
  3 keeps them in `global_state`; without it, names are as Keras gives
  them.)
  """
  try:
    from keras.src.backend.common import global_state  # noqa: PLC0415
  except ImportError:
    yield
    return
  key = 'object_name_uids'
  before = global_state.get_global_attribute(key)
  fresh = collections.defaultdict(int)
  global_state.set_global_attribute(key, fresh)
  try:
    yield
  finally:
    merged = collections.defaultdict(int, before or {})
    for name, count in fresh.items():
      merged[name] = max(merged[name], count)
    global_state.set_global_attribute(key, merged)


def _pairing(paths, variables):
  """For each recorded path, the index of its Keras 3 variable, or None.

  A path `.../<layer>/<weight>` names the variable whose path ends in the
  same layer and weight (outer scopes differ: Keras 3 puts a Sequential's
  name before its layers'). Else each path is paired with the variable
  that has its weight name and its layer among its scopes (a wrapper:
  Keras 2's `time_distributed/kernel` is Keras 3's
  `time_distributed/dense/kernel`), where only one is left, until all are.
  None unless every path gets its own variable so.
  """
  theirs = [tuple(p.split('/')[-2:]) for p in paths]
  scopes = [v.path.split('/') for v in variables]
  ends = [tuple(s[-2:]) for s in scopes]
  if len(set(ends)) == len(ends) and sorted(ends) == sorted(theirs):
    return [ends.index(key) for key in theirs]
  if len(theirs) != len(variables):
    return None
  candidates = [
      {i for i, s in enumerate(scopes) if s[-1] == key[-1] and key[0] in s[:-1]}
      for key in theirs
  ]
  pairs = [None] * len(theirs)
  while None in pairs:  # pair what has one candidate left, then again
    sure = {
        j: next(iter(c))
        for j, c in enumerate(candidates)
        if pairs[j] is None and len(c) == 1
    }
    if not sure:
      return None
    for j, i in sure.items():
      pairs[j] = i
      for other in candidates:
        other.discard(i)
  return pairs if len(set(pairs)) == len(pairs) else None


def _in_spec_order(model, spec):
  """The model's (trainable, non-trainable) weights in spec's order.

  Matched by layer; by position without `weight_paths`, or (warned) when
  they do not name this model's layers one to one.
  """
  kinds = list(model.trainable_weights), list(model.non_trainable_weights)
  paths = spec.get('weight_paths')
  if not paths:
    return kinds
  split = len(spec['trainable'])
  pairings = [
      _pairing(paths[:split], kinds[0]),
      _pairing(paths[split:], kinds[1]),
  ]
  if None not in pairings:
    return tuple(
        [variables[i] for i in pairing]
        for variables, pairing in zip(kinds, pairings, strict=True)
    )
  recorded = set(paths)
  unmatched = [v.path for v in kinds[0] + kinds[1] if v.path not in recorded]
  warnings.warn(
      f'{spec["builder"]}: the Keras 3 model\'s weights'
      f' ({", ".join(unmatched[:3] or [v.path for v in kinds[0][:1]])}, ...)'
      f' do not name the layers the export recorded ({", ".join(paths[:3])},'
      ' ...) one to one: they are matched by position, which is right only'
      ' if both Keras versions order them alike.',
      stacklevel=3,
  )
  return kinds


def _variables_by_name(model, spec):
  """Checkpoint name -> the Keras 3 variable, matched by layer.

  Raises:
    ValueError: The Keras 3 model's weights differ from the checkpoint's
      (count or shape), naming the position.
  """
  out = {}
  ordered = _in_spec_order(model, spec)
  for kind, variables in zip(
      ('trainable', 'non_trainable'), ordered, strict=True
  ):
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
  slots = {
      attribute: [
          (variables[name], key)
          for name, key in zip(entry['variables'], keys, strict=True)
      ]
      for attribute, keys in entry['slots'].items()
  }
  _restore_optimizer(optimizer, model.trainable_variables, slots, weights)
  optimizer.iterations.assign(entry['iterations'])
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

  Raises:
    IntegrityError: A file of `directory` is not what the export wrote;
      checked before your builder is imported.
  """
  directory = directory or HERE
  verify_integrity(directory)
  spec = read_spec(directory)
  model = build_model(spec)
  variables = _variables_by_name(model, spec)
  with zipfile.ZipFile(os.path.join(directory, WEIGHTS)) as weights:
    for name, variable in variables.items():
      _restore(variable, weights, name)
    if compile:  # optimizer slots are read only here
      _compile(model, spec, weights, variables)
  return model
