"""The export's spec: what `spec.json` holds, as versioned frozen dataclasses.

`spec.json` is the contract between this package (TF 2.15, which writes it)
and the generated `model.py` (`keras3/canned_model.py` or
`keras3/custom_model.py` on TF 2.21 / Keras 3, which reads it and imports
nothing of this package). One class per object of the file:

  CannedSpec = CannedModel (families.py, columns.py: inputs, categorical id
               layers, towers, head, weights) + Training + loss_reduction
  CustomSpec = CustomModel (custom.py: builder, params, weights by
               position) + Training + loss [+ serving]
  Training   = the optimizers (optimizer_state.py) or why there are none

`CannedModel`, `CustomModel` and `Training` are flattened into the top level
of `spec.json` (`flat` fields): its keys are those estimator_migrate 0.1
wrote, plus `"schema_version": SCHEMA_VERSION`. `to_dict` / `to_json` write
that; `from_dict` / `from_json` read it back, refusing a missing or unknown
schema version, an unknown or missing key, or a value of another type
(`SpecError`, naming the key).

Versions: `SCHEMA_VERSION` is the version written; `READABLE` the versions
read. The templates hold the same numbers (their `SCHEMA_VERSION` and
`READABLE`) and refuse a newer one; a spec.json without `schema_version`
(estimator_migrate 0.1) is read as version 1, whose keys are 0.1's.

  1  estimator_migrate 0.1 and 0.2: canned and custom (Keras-built) exports.
  2  estimator_migrate 0.3: version 1's keys, plus optional sections, each
     absent when unused: `serving` (the estimator's serving signatures),
     the head's `label_vocabulary`, and the graph spec of a custom
     `model_fn`'s export. weights.npz's layout is unchanged.
  3  estimator_migrate 0.4.1: version 2's keys, plus a custom export's
     `weight_paths` (each weight's Keras 2 path, so that Keras 3 matches
     weights by layer, not by a position the two Keras versions may order
     differently).
A new section (a sharded weights layout) is a new field with
`omit_none` (absent from the JSON when None, so older layouts still decode)
under a new SCHEMA_VERSION, raised with the templates' in the same change;
`READABLE` lists the versions `from_dict` takes.

Names both sides use are defined here once (`BASELINE_INPUT`, `SPEC_FILE`,
`WEIGHTS_FILE`, `layer_name` and the DNN scopes); the templates cannot
import them and keep copies, which tests/export_spec_test.py asserts equal.
"""

import collections.abc
from collections.abc import Mapping
import dataclasses
import json
import types
import typing
from typing import ClassVar, NewType
import warnings

from estimator_migrate import errors

# The layout version `to_dict` writes (`"schema_version"`); the templates'
# SCHEMA_VERSION is the same number (tests/export_spec_test.py).
SCHEMA_VERSION = 3
VERSION_KEY = 'schema_version'
# The versions `from_dict` reads.
READABLE = (1, 2, 3)
# The export's files `model.py` reads.
SPEC_FILE = 'spec.json'
WEIGHTS_FILE = 'weights.npz'
# The input of a Baseline model, which reads no feature but the batch size
# (`select_features` fills it from any feature); keras3/canned_model.py's
# BATCH.
BASELINE_INPUT = 'batch_size_of'


def layer_name(checkpoint_name):
  """The Keras layer named after a checkpoint scope (Keras forbids `/`)."""
  return checkpoint_name.replace('/', '.')


def hidden_layer_scope(scope, index):
  """The checkpoint scope of a DNN's hidden layer `index`."""
  return f'{scope}/hiddenlayer_{index}'


def batch_norm_scope(scope, index):
  """The checkpoint scope of the batch norm after hidden layer `index`."""
  return f'{scope}/hiddenlayer_{index}/batchnorm_{index}'


def logits_scope(scope):
  """The checkpoint scope of a DNN's logits layer."""
  return f'{scope}/logits'


class SpecError(errors.MigrationError):
  """A spec.json that is not of a schema version this package reads."""


# Any JSON value (the user's params, a loss config, an optimizer's config):
# stored frozen (tuples, read-only mappings), written back as it was read.
Json = NewType('Json', object)


def _field(*, json_key=None, omit_none=False, flat=False, **kwargs):
  """A dataclass field with how it sits in the JSON.

  Args:
    json_key: Its key in the JSON (default: the field's name).
    omit_none: Absent from the JSON when None (an optional section).
    flat: A record whose keys sit in this record's object (no key of its
      own).
    **kwargs: For `dataclasses.field`.
  """
  metadata = {'json': json_key, 'omit_none': omit_none, 'flat': flat}
  return dataclasses.field(metadata=metadata, **kwargs)


def _optional():
  return _field(omit_none=True, default=None)


def _freeze(value):
  """Lists to tuples and dicts to read-only mappings, all the way down."""
  if isinstance(value, (list, tuple)):
    return tuple(_freeze(v) for v in value)
  if isinstance(value, Mapping):
    return types.MappingProxyType({k: _freeze(v) for k, v in value.items()})
  return value


def _encode(value):
  if isinstance(value, _Record):
    out = {}
    if value.TAG is not None:
      out[value.TAG[0]] = value.TAG[1]
    for f in dataclasses.fields(value):
      item = getattr(value, f.name)
      if f.metadata.get('flat'):
        out.update(_encode(item))
      elif not (item is None and f.metadata.get('omit_none')):
        out[f.metadata.get('json') or f.name] = _encode(item)
    return out
  if isinstance(value, (list, tuple)):
    return [_encode(v) for v in value]
  if isinstance(value, Mapping):
    return {k: _encode(v) for k, v in value.items()}
  return value


def thaw(value):
  """A frozen JSON value (or record) as plain dicts and lists."""
  return _encode(value)


@dataclasses.dataclass(frozen=True)
class _Record:
  """A JSON object of the spec: frozen, its lists and dicts too."""

  # (key, value) naming this class among the others a list may hold.
  TAG: ClassVar[tuple[str, str] | None] = None

  def __post_init__(self):
    for f in dataclasses.fields(self):
      object.__setattr__(self, f.name, _freeze(getattr(self, f.name)))

  def to_dict(self) -> dict:
    """The JSON object (plain dicts and lists)."""
    return _encode(self)


# The inputs and categorical id layers (columns.py).


@dataclasses.dataclass(frozen=True)
class Input(_Record):
  """A Keras input: one feature's shape without the batch, and dtype."""

  shape: tuple[int | None, ...]
  dtype: str


@dataclasses.dataclass(frozen=True)
class Bucketized(_Record):
  TAG: ClassVar = ('kind', 'bucketized')
  key: str
  boundaries: tuple[float, ...]
  num_buckets: int


@dataclasses.dataclass(frozen=True)
class Vocabulary(_Record):
  TAG: ClassVar = ('kind', 'vocabulary')
  key: str
  input_dtype: str
  vocabulary: tuple[str | int, ...]
  num_oov_buckets: int
  default_value: int
  num_buckets: int


@dataclasses.dataclass(frozen=True)
class Identity(_Record):
  TAG: ClassVar = ('kind', 'identity')
  key: str
  input_dtype: str
  num_buckets: int
  default_value: int | None


@dataclasses.dataclass(frozen=True)
class Hash(_Record):
  TAG: ClassVar = ('kind', 'hash')
  key: str
  input_dtype: str
  num_buckets: int


@dataclasses.dataclass(frozen=True)
class CrossSource(_Record):
  """One leaf of a cross: a raw feature key, or a categorical's ids."""

  raw: str | None = _optional()
  ids: str | None = _optional()


@dataclasses.dataclass(frozen=True)
class Crossed(_Record):
  TAG: ClassVar = ('kind', 'crossed')
  sources: tuple[CrossSource, ...]
  num_buckets: int
  hash_key: int | None


@dataclasses.dataclass(frozen=True)
class Weighted(_Record):
  """Ids of the categorical `ids` with the weight feature `weight_key`."""

  TAG: ClassVar = ('kind', 'weighted')
  ids: str
  weight_key: str
  num_buckets: int


Categorical = Bucketized | Vocabulary | Identity | Hash | Crossed | Weighted


# The towers' columns (columns.py).


@dataclasses.dataclass(frozen=True)
class NumericColumn(_Record):
  """A numeric column; in the linear part, with its weight variable."""

  TAG: ClassVar = ('type', 'numeric')
  name: str
  key: str
  weight: str | None = _optional()


@dataclasses.dataclass(frozen=True)
class EmbeddingColumn(_Record):
  TAG: ClassVar = ('type', 'embedding')
  name: str
  categorical: str
  num_buckets: int
  dimension: int
  combiner: str
  weight: str


@dataclasses.dataclass(frozen=True)
class IndicatorColumn(_Record):
  TAG: ClassVar = ('type', 'indicator')
  name: str
  categorical: str
  num_buckets: int


@dataclasses.dataclass(frozen=True)
class CategoricalColumn(_Record):
  """A categorical column of the linear part, with its weight variable."""

  TAG: ClassVar = ('type', 'categorical')
  name: str
  categorical: str
  num_buckets: int
  weight: str


DnnColumn = NumericColumn | EmbeddingColumn | IndicatorColumn
LinearColumn = NumericColumn | CategoricalColumn


# The towers and head (families.py).


@dataclasses.dataclass(frozen=True)
class Head(_Record):
  """`type`: regression, binary or multi_class.

  `label_vocabulary` (version 2, classifiers given one): the class names,
  by class id; `classes` predicts them (else the ids as strings).
  """

  type: str
  logits_dimension: int
  n_classes: int | None = _optional()
  label_vocabulary: tuple[str, ...] | None = _optional()


@dataclasses.dataclass(frozen=True)
class Baseline(_Record):
  scope: str
  bias: str


@dataclasses.dataclass(frozen=True)
class Dnn(_Record):
  scope: str
  hidden_units: tuple[int, ...]
  activation: str
  dropout: float
  batch_norm: bool
  columns: tuple[DnnColumn, ...]


@dataclasses.dataclass(frozen=True)
class Linear(_Record):
  scope: str
  sparse_combiner: str
  bias: str
  columns: tuple[LinearColumn, ...]


@dataclasses.dataclass(frozen=True)
class CannedModel(_Record):
  """A canned estimator's Keras 3 structure, as families.py reads it.

  `weights`: Keras layer name -> the checkpoint names of its weights, in
  the layer's order.
  """

  estimator: str
  head: Head
  inputs: Mapping[str, Input]
  categorical: Mapping[str, Categorical]
  weights: Mapping[str, tuple[str, ...]]
  baseline: Baseline | None = _optional()
  dnn: Dnn | None = _optional()
  linear: Linear | None = _optional()


# What `load(compile=True)` restores (optimizer_state.py).


@dataclasses.dataclass(frozen=True)
class Optimizer(_Record):
  """One optimizer: its Keras 3 class, state and the variables it trains.

  `slots`: Keras 3 attribute (`_momentums`) -> the weights.npz keys of that
  slot, one per variable.
  """

  name: str
  keras_class: str = _field(json_key='class')
  config: Json
  iterations: int
  variables: tuple[str, ...]
  slots: Mapping[str, tuple[str, ...]]

  @classmethod
  def from_entry(cls, entry: Mapping) -> 'Optimizer':
    """From an `optimizer_state.State` entry (its JSON object)."""
    return _decode(cls, dict(entry), '')


@dataclasses.dataclass(frozen=True)
class Training(_Record):
  """The optimizers carried, or (`compile_unavailable`) why none are."""

  optimizers: tuple[Optimizer, ...] | None
  compile_unavailable: str | None

  @classmethod
  def of(cls, entries, reason: str | None) -> 'Training':
    """From `optimizer_state.State` entries, or the reason for none."""
    if reason:
      return cls(None, reason)
    return cls(tuple(map(Optimizer.from_entry, entries)), None)


# How the model is served (version 2; export/signatures.py).


@dataclasses.dataclass(frozen=True)
class ReceiverInput(_Record):
  """A tensor the serving receiver takes: dtype and shape (batch: None)."""

  dtype: str
  shape: tuple[int | None, ...]


@dataclasses.dataclass(frozen=True)
class ParsedFeature(_Record):
  """A feature parsed from serialized tf.Examples.

  `kind` `fixed` (`tf.io.FixedLenFeature`: `shape`, and `default`, the
  values flattened, absent when the feature is required) or `var_len`
  (`tf.io.VarLenFeature`).
  """

  kind: str
  dtype: str
  shape: tuple[int, ...] | None = _optional()
  default: Json = _optional()


@dataclasses.dataclass(frozen=True)
class Receiver(_Record):
  """The serving receiver: the tensors it takes and the features it gives.

  A parsing receiver has one string input and `parse` (feature key -> how
  it is parsed); a raw one `features` (feature key -> its input's key).
  """

  inputs: Mapping[str, ReceiverInput]
  parse: Mapping[str, ParsedFeature] | None = _optional()
  features: Mapping[str, str] | None = _optional()


@dataclasses.dataclass(frozen=True)
class Signature(_Record):
  """A serving signature as the estimator's head declares it.

  `method`: classify, regress or predict; `inputs`: signature input key ->
  receiver input key; `outputs`: signature output key -> prediction key.
  """

  method: str
  inputs: Mapping[str, str]
  outputs: Mapping[str, str]


@dataclasses.dataclass(frozen=True)
class Serving(_Record):
  """The estimator's serving surface: its receiver and signatures by key."""

  receiver: Receiver
  signatures: Mapping[str, Signature]


# The whole file.


@dataclasses.dataclass(frozen=True)
class _Spec(_Record):

  def to_dict(self) -> dict:
    """spec.json's object: every key, `schema_version` first."""
    return {VERSION_KEY: SCHEMA_VERSION, **_encode(self)}

  def to_json(self) -> str:
    """spec.json's text."""
    return dumps(self.to_dict())

  def __getitem__(self, key: str):
    """spec.json's value at `key`: the dict API of 0.1, kept with a warning.

    In 0.1 an export result's `spec` was spec.json's dict; code reading
    `result.spec['weights']` keeps working (use the fields, e.g.
    `result.spec.model.weights`, or `to_dict()`).
    """
    warnings.warn(
        "an export result's spec is a frozen dataclass since 0.2:"
        f' spec[{key!r}] reads its to_dict(); use its fields instead.',
        DeprecationWarning,
        stacklevel=2,
    )
    return self.to_dict()[key]

  @classmethod
  def from_dict(cls, data, *, unversioned: bool = False):
    """The spec of a spec.json object.

    Args:
      data: The parsed spec.json.
      unversioned: Read an object without `schema_version` (written by
        estimator_migrate 0.1) as version 1, its keys checked as any.

    Raises:
      SpecError: A missing (unless `unversioned`) or unknown schema
        version, an unknown or missing key, or a value of another type.
    """
    check_version(data, unversioned=unversioned)
    data = {k: v for k, v in data.items() if k != VERSION_KEY}
    return _decode(cls, data, '')

  @classmethod
  def from_json(cls, text: str, *, unversioned: bool = False):
    """`from_dict` of spec.json's text."""
    return cls.from_dict(_parse(text), unversioned=unversioned)


@dataclasses.dataclass(frozen=True)
class CannedSpec(_Spec):
  """A canned export's spec.json (keras3/canned_model.py reads it).

  `loss_reduction`: Keras 3's name (`sum`, `sum_over_batch_size`).
  """

  model: CannedModel = _field(flat=True)
  training: Training = _field(flat=True)
  loss_reduction: str
  serving: Serving | None = _optional()


@dataclasses.dataclass(frozen=True)
class CustomModel(_Record):
  """A custom estimator's Keras model: the builder and the weights.

  `trainable` / `non_trainable`: checkpoint names in the model's weight
  order; `shapes`: each one's shape; `checkpoint_format`: `object-based`
  or `named`. `weight_paths` (version 3): each weight's path in the Keras 2
  model (`zeta/kernel`), in the same order, trainable then non-trainable;
  model.py matches the Keras 3 model's weights by them.
  """

  builder: str
  builder_path: str
  params: Json
  checkpoint_format: str
  trainable: tuple[str, ...]
  non_trainable: tuple[str, ...]
  shapes: Mapping[str, tuple[int, ...]]
  weight_paths: tuple[str, ...] | None = _optional()


@dataclasses.dataclass(frozen=True)
class CustomSpec(_Spec):
  """A custom export's spec.json (keras3/custom_model.py reads it).

  `loss`: what `keras.losses.get` takes (a name or `{class_name, config}`),
  or None. `serving` (version 2): the signatures the estimator's
  `export_outputs` declare, with the user's receiver (absent without one);
  model.py's generated `serving_model` gives the tensors they name.
  """

  model: CustomModel = _field(flat=True)
  training: Training = _field(flat=True)
  loss: Json
  serving: Serving | None = _optional()


# A custom model_fn's export (version 2; model_fn_export.py).


@dataclasses.dataclass(frozen=True)
class FeatureColumns(_Record):
  """One `input_layer` or `linear_model` call of a model_fn.

  `kind`: `input_layer` or `linear_model`; a linear model also has its
  `units`, `sparse_combiner` and `bias` (the checkpoint name of its
  `bias_weights`).
  """

  kind: str
  columns: tuple[DnnColumn | LinearColumn, ...]
  units: int | None = _optional()
  sparse_combiner: str | None = _optional()
  bias: str | None = _optional()


@dataclasses.dataclass(frozen=True)
class Loss(_Record):
  """One `tf.compat.v1.losses` term of the model_fn's TRAIN loss.

  `output`: the model output it reads; `label`: the key of the labels dict
  it reads (None: the labels are one tensor); `keras_class` and `config`:
  the Keras 3 loss computing it, with its reduction.
  """

  output: str
  label: str | None
  keras_class: str = _field(json_key='class')
  config: Json


@dataclasses.dataclass(frozen=True)
class GraphModel(_Record):
  """A model_fn's Keras 3 model: the data its generated code reads.

  `model_fn`: the `module:function` exported; `outputs`: the model's output
  keys (every PREDICT prediction key, then any tensor a loss reads);
  `feature_columns`: the code's name of each column call -> its columns;
  `weights`: Keras layer name -> checkpoint names, in the layer's order.
  """

  model_fn: str
  inputs: Mapping[str, Input]
  categorical: Mapping[str, Categorical]
  feature_columns: Mapping[str, FeatureColumns]
  weights: Mapping[str, tuple[str, ...]]
  outputs: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class ModelFnSpec(_Spec):
  """A custom model_fn's export's spec.json (its model.py is generated).

  `losses`: the TRAIN loss as a sum of Keras 3 losses (empty: not carried,
  `compile_unavailable` says why). `serving`: the signatures the model_fn's
  `export_outputs` declare, with the user's receiver (absent without one).
  """

  model: GraphModel = _field(flat=True)
  training: Training = _field(flat=True)
  losses: tuple[Loss, ...]
  serving: Serving | None = _optional()


Spec = CannedSpec | CustomSpec | ModelFnSpec


def dumps(data: Mapping) -> str:
  """A spec's JSON text as the export writes it (sorted, indented)."""
  return json.dumps(data, indent=2, sort_keys=True) + '\n'


def _parse(text: str):
  try:
    return json.loads(text)
  except ValueError as e:
    raise SpecError(f'{SPEC_FILE} is not JSON ({e}).') from e


def check_version(data, *, unversioned: bool = False) -> int:
  """The schema version of a spec.json object, one `from_dict` reads.

  Raises:
    SpecError: Not an object, no version (unless `unversioned`: then 1),
      or a version this package does not read.
  """
  if not isinstance(data, dict):
    raise SpecError(
        f'{SPEC_FILE} holds {type(data).__name__}, not the spec object.'
    )
  version = data.get(VERSION_KEY)
  if version is None and unversioned:
    return 1
  if version is None:
    raise SpecError(
        f'{SPEC_FILE} has no {VERSION_KEY} (an export of estimator_migrate'
        ' 0.1?): read it with unversioned=True, or export the model again.'
    )
  if isinstance(version, bool) or version not in READABLE:
    raise SpecError(
        f'{SPEC_FILE} is of {VERSION_KEY} {version!r}; this estimator_migrate'
        f' reads {", ".join(map(str, READABLE))}: use an estimator_migrate'
        ' of that schema version, or export the model again.'
    )
  return version


def from_dict(data, *, unversioned: bool = False) -> Spec:
  """The spec of a spec.json object: canned, custom (`builder`) or model_fn."""
  kind = CannedSpec
  if isinstance(data, dict) and 'builder' in data:
    kind = CustomSpec
  elif isinstance(data, dict) and 'model_fn' in data:
    kind = ModelFnSpec
  return kind.from_dict(data, unversioned=unversioned)


def from_json(text: str, *, unversioned: bool = False) -> Spec:
  """The spec of spec.json's text: canned, custom or model_fn."""
  return from_dict(_parse(text), unversioned=unversioned)


def top_level_keys(cls) -> tuple[tuple[str, ...], tuple[str, ...]]:
  """A spec's JSON keys but `schema_version`: (always there, sections).

  Sections (`omit_none` fields: `baseline`, `dnn`, `linear`) are absent
  when the model has none. The templates' SPEC_KEYS and SPEC_SECTIONS.
  """
  hints = typing.get_type_hints(cls)
  always, sections = [], []
  for f in dataclasses.fields(cls):
    if f.metadata.get('flat'):
      inner = top_level_keys(hints[f.name])
      always += inner[0]
      sections += inner[1]
    else:
      key = f.metadata.get('json') or f.name
      (sections if f.metadata.get('omit_none') else always).append(key)
  return tuple(sorted(always)), tuple(sorted(sections))


# Decoding, by the fields' types.


def _keys(cls) -> set[str]:
  """The JSON keys of a record's object (flat fields' keys included)."""
  out = {cls.TAG[0]} if cls.TAG is not None else set()
  hints = typing.get_type_hints(cls)
  for f in dataclasses.fields(cls):
    if f.metadata.get('flat'):
      out |= _keys(hints[f.name])
    else:
      out.add(f.metadata.get('json') or f.name)
  return out


def _fail(path: str, what: str) -> typing.NoReturn:
  where = f'{SPEC_FILE} {path.lstrip(".")}' if path else SPEC_FILE
  raise SpecError(
      f'{where} {what} (spec schema version {SCHEMA_VERSION}): the export'
      ' is not one this estimator_migrate wrote; export the model again.'
  )


_PRIMITIVES = {
    str: lambda v: isinstance(v, str),
    int: lambda v: isinstance(v, int) and not isinstance(v, bool),
    float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    bool: lambda v: isinstance(v, bool),
    type(None): lambda v: v is None,
}


def _decode(hint, value, path: str):
  """`value` (parsed JSON) as the type `hint`, checked."""
  if hint is Json:
    return _freeze(value)
  origin = typing.get_origin(hint)
  if origin in (types.UnionType, typing.Union):
    members = typing.get_args(hint)
    if value is None and type(None) in members:
      return None
    members = [m for m in members if m is not type(None)]
    records = [m for m in members if dataclasses.is_dataclass(m)]
    if len(members) == 1:
      return _decode(members[0], value, path)
    if records:
      return _decode_tagged(records, value, path)
    if any(_PRIMITIVES[m](value) for m in members):
      return value
    _fail(path, f'is {value!r}, not {hint}')
  if origin is tuple:
    if not isinstance(value, list):
      _fail(path, f'is {type(value).__name__}, not a list')
    item, _ = typing.get_args(hint)
    return tuple(_decode(item, v, f'{path}[{i}]') for i, v in enumerate(value))
  if origin is collections.abc.Mapping:
    if not isinstance(value, dict):
      _fail(path, f'is {type(value).__name__}, not an object')
    _, item = typing.get_args(hint)
    return types.MappingProxyType(
        {k: _decode(item, v, f'{path}.{k}') for k, v in value.items()}
    )
  if dataclasses.is_dataclass(hint):
    return _decode_record(hint, value, path)
  if not _PRIMITIVES[hint](value):
    _fail(path, f'is {value!r}, not {hint.__name__}')
  return value


def _decode_tagged(records, value, path: str):
  if not isinstance(value, dict):
    _fail(path, f'is {type(value).__name__}, not an object')
  key = records[0].TAG[0]
  by_tag = {r.TAG[1]: r for r in records}
  if value.get(key) not in by_tag:
    _fail(
        path,
        f'has {key} {value.get(key)!r}, not one of {", ".join(by_tag)}',
    )
  return _decode_record(by_tag[value[key]], value, path)


def _decode_record(cls, data, path: str):
  if not isinstance(data, dict):
    _fail(path, f'is {type(data).__name__}, not an object')
  unknown = sorted(set(data) - _keys(cls))
  if unknown:
    _fail(path, f'has unknown keys {", ".join(unknown)}')
  hints = typing.get_type_hints(cls)
  kwargs = {}
  for f in dataclasses.fields(cls):
    hint = hints[f.name]
    if f.metadata.get('flat'):
      keys = _keys(hint)
      part = {k: v for k, v in data.items() if k in keys}
      kwargs[f.name] = _decode_record(hint, part, path)
      continue
    key = f.metadata.get('json') or f.name
    if key in data:
      kwargs[f.name] = _decode(hint, data[key], f'{path}.{key}')
    elif f.default is dataclasses.MISSING:
      _fail(path, f'lacks {key}')
  return cls(**kwargs)
