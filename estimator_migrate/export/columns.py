"""Feature columns to the spec of Keras 3 preprocessing layers.

A column becomes plain data (`spec.py`'s records, in `spec.json`) that the
generated `model.py`
turns into layers: categorical columns into `CategoricalIds` (`StringLookup`
/ `IntegerLookup` / `Hashing` / `Discretization` with the feature column's id
numbering), embedding columns into `SparseCombiner`, indicator columns into
`MultiHot`. v1 (`_NumericColumn`) and v2 (`NumericColumn`) classes are read
alike. Anything else is a `ColumnError` naming the column and why.
"""

from collections.abc import Iterable
import dataclasses

import tensorflow as tf

from estimator_migrate import errors
from estimator_migrate.export import spec as spec_lib


class ColumnError(errors.MigrationError):
  """A feature column has no exact Keras 3 counterpart in this exporter."""


SUPPORTED = (
    'numeric',
    'bucketized',
    'categorical_column_with_vocabulary_list',
    'categorical_column_with_vocabulary_file',
    'categorical_column_with_identity',
    'categorical_column_with_hash_bucket',
    'weighted_categorical_column',
    'crossed_column (of raw keys and the columns above)',
    'indicator',
    'embedding (combiner mean, sum, sqrtn)',
    'shared embeddings',
)


@dataclasses.dataclass(frozen=True)
class Mapping:
  """How one feature column was carried over, for the report."""

  column: str
  kind: str
  keras: str
  exact: bool
  note: str = ''


@dataclasses.dataclass
class Columns:
  """The inputs and categorical id layers shared by the model's towers."""

  inputs: dict[str, spec_lib.Input] = dataclasses.field(default_factory=dict)
  categorical: dict[str, spec_lib.Categorical] = dataclasses.field(
      default_factory=dict
  )
  mappings: list = dataclasses.field(default_factory=list)


def _kind(column) -> str:
  return type(column).__name__.lstrip('_').removesuffix('V2')


def _dtype_name(dtype) -> str:
  dtype = tf.as_dtype(dtype)
  if dtype == tf.string:
    return 'string'
  if dtype.is_integer:
    return 'int64'
  return dtype.name


def feature_dtype(array) -> str:
  """The Keras input dtype of one batch of a feature (a numpy array)."""
  kind = array.dtype.kind
  if kind in 'OSU':
    return 'string'
  if kind in 'iu':
    return 'int64'
  if kind == 'b':
    return 'bool'
  return array.dtype.name


def _add_input(columns: Columns, key: str, spec: spec_lib.Input, owner: str):
  known = columns.inputs.setdefault(key, spec)
  if known != spec:
    raise ColumnError(
        f'feature {key!r} is read by two columns with different shapes or'
        f' dtypes ({known.to_dict()} and {spec.to_dict()}, the second from'
        f' {owner!r}); give each column its own feature key.'
    )


def _numeric(column, owner: str) -> spec_lib.Input:
  if column.normalizer_fn is not None:
    raise ColumnError(
        f'column {owner!r}: numeric_column {column.key!r} has a'
        ' normalizer_fn, which is Python code the exporter cannot carry. Drop'
        ' it from the column and apply it in the input pipeline.'
    )
  return spec_lib.Input([int(d) for d in column.shape], 'float32')


def _vocabulary_from_file(column) -> list:
  with tf.io.gfile.GFile(column.vocabulary_file) as f:
    lines = [line.rstrip('\n') for line in f]
  if column.vocabulary_size is not None:
    lines = lines[: column.vocabulary_size]
  if tf.as_dtype(column.dtype).is_integer:
    return [int(v) for v in lines]
  return lines


def _categorical(
    column, owner: str
) -> tuple[spec_lib.Categorical, spec_lib.Input]:
  """The id layer's spec and the input's spec of a categorical column."""
  kind = _kind(column)
  if kind == 'BucketizedColumn':
    source = _numeric(column.source_column, owner)
    width = len(column.boundaries) + 1
    size = 1
    for d in source.shape:
      size *= d
    spec = spec_lib.Bucketized(
        key=column.source_column.key,
        boundaries=[float(b) for b in column.boundaries],
        num_buckets=width * size,
    )
    return spec, source
  if kind in (
      'VocabularyListCategoricalColumn',
      'VocabularyFileCategoricalColumn',
  ):
    if kind == 'VocabularyListCategoricalColumn':
      vocabulary = list(column.vocabulary_list)
    else:
      vocabulary = _vocabulary_from_file(column)
    dtype = _dtype_name(column.dtype)
    vocabulary = [
        v.decode()
        if isinstance(v, bytes)
        else (v if dtype == 'string' else int(v))
        for v in vocabulary
    ]
    spec = spec_lib.Vocabulary(
        key=column.key,
        input_dtype=dtype,
        vocabulary=vocabulary,
        num_oov_buckets=int(column.num_oov_buckets),
        default_value=int(column.default_value),
        num_buckets=len(vocabulary) + int(column.num_oov_buckets),
    )
    return spec, spec_lib.Input([None], dtype)
  if kind == 'IdentityCategoricalColumn':
    spec = spec_lib.Identity(
        key=column.key,
        input_dtype='int64',
        num_buckets=int(column.num_buckets),
        default_value=column.default_value,
    )
    return spec, spec_lib.Input([None], 'int64')
  if kind == 'HashedCategoricalColumn':
    dtype = _dtype_name(column.dtype)
    spec = spec_lib.Hash(
        key=column.key,
        input_dtype=dtype,
        num_buckets=int(column.hash_bucket_size),
    )
    return spec, spec_lib.Input([None], dtype)
  raise ColumnError(
      f'column {owner!r} ({type(column).__name__}) is not supported by the'
      f' exporter. Supported: {", ".join(SUPPORTED)}.'
  )


def _leaves(column) -> list:
  """A crossed column's keys, nested crosses flattened (as feature columns)."""
  out = []
  for key in column.keys:
    if not isinstance(key, str) and _kind(key) == 'CrossedColumn':
      out.extend(_leaves(key))
    else:
      out.append(key)
  return out


def _register_crossed(columns: Columns, column, owner: str) -> str:
  """A crossed column: its leaves' raw values or ids, hashed together.

  A raw key is read as the dtype another column gives that feature, else
  as a string.
  """
  sources = []
  for key in _leaves(column):
    if not isinstance(key, str) and _kind(key) == 'WeightedCategoricalColumn':
      raise ColumnError(
          f'column {owner!r}: crossed_column over the weighted column'
          f' {key.name!r}: feature columns refuse weights in a cross. Cross'
          ' its categorical_column instead.'
      )
    if isinstance(key, str):
      known = columns.inputs.get(key)
      dtype = known.dtype if known is not None else 'string'
      _add_input(columns, key, spec_lib.Input([None], dtype), owner)
      sources.append(spec_lib.CrossSource(raw=key))
    else:
      ids = _register_categorical(columns, key, owner)
      sources.append(spec_lib.CrossSource(ids=ids))
  spec = spec_lib.Crossed(
      sources=sources,
      num_buckets=int(column.hash_bucket_size),
      hash_key=column.hash_key,
  )
  return _unique(columns, column.name, spec)


def _register_weighted(columns: Columns, column, owner: str) -> str:
  """A weighted column: its ids' column and the weight feature.

  As feature columns do, an id and its weight are dropped together where
  the id is dropped (`''`, `-1`) or, in embeddings and linear models, where
  the weight is not positive (`safe_embedding_lookup_sparse`).
  """
  if not tf.as_dtype(column.dtype).is_floating:
    raise ColumnError(
        f'column {owner!r}: weighted column {column.name!r} has dtype'
        f' {column.dtype!r}; only float weights are exported.'
    )
  ids = _register_categorical(columns, column.categorical_column, owner)
  _add_input(
      columns,
      column.weight_feature_key,
      spec_lib.Input([None], 'float32'),
      owner,
  )
  spec = spec_lib.Weighted(
      ids=ids,
      weight_key=column.weight_feature_key,
      num_buckets=columns.categorical[ids].num_buckets,
  )
  return _unique(columns, column.name, spec)


def _register_categorical(columns: Columns, column, owner: str) -> str:
  if _kind(column) == 'CrossedColumn':
    return _register_crossed(columns, column, owner)
  if _kind(column) == 'WeightedCategoricalColumn':
    return _register_weighted(columns, column, owner)
  spec, input_spec = _categorical(column, owner)
  _add_input(columns, spec.key, input_spec, owner)
  return _unique(columns, column.name, spec)


def _unique(columns: Columns, name: str, spec: spec_lib.Categorical) -> str:
  """Registers `spec` under `name`, or `name.2`, ... if another has it.

  Categorical columns are named after their feature key, so two columns of
  one feature (an embedding of one, an indicator of another) share a name.
  """
  unique, count = name, 1
  while columns.categorical.get(unique, spec) != spec:
    count += 1
    unique = f'{name}.{count}'
  columns.categorical[unique] = spec
  return unique


def _numeric_column(
    columns: Columns, column, keras: str, weight: str | None = None
) -> spec_lib.NumericColumn:
  """Registers a numeric column's input; its spec for either tower."""
  _add_input(columns, column.key, _numeric(column, column.name), column.name)
  columns.mappings.append(Mapping(column.name, 'numeric', keras, True))
  return spec_lib.NumericColumn(column.name, column.key, weight)


def _embedding(
    columns: Columns, column, scope: str
) -> spec_lib.EmbeddingColumn:
  """An embedding column, or one of shared embeddings (one weight).

  v1 shared embeddings keep their table under the input layer's scope like
  an embedding column; v2 `shared_embeddings` keep it at the top level,
  named after the collection.
  """
  name = column.name
  if column.max_norm is not None:
    raise ColumnError(
        f'column {name!r}: embedding max_norm is not exported yet; export a'
        ' model trained without it.'
    )
  ids = _register_categorical(columns, column.categorical_column, name)
  input_layer = f'{scope}/input_from_feature_columns/input_layer'
  creator = getattr(column, 'shared_embedding_column_creator', None)
  if creator is not None:  # v2 shared_embeddings
    weight = creator._name  # noqa: SLF001 (the collection's variable name)
    dimension = creator.dimension
  elif _kind(column) == 'SharedEmbeddingColumn':  # v1
    collection = column.shared_embedding_collection_name
    weight = f'{input_layer}/{collection}/embedding_weights'
    dimension = column.dimension
  else:
    weight = f'{input_layer}/{name}/embedding_weights'
    dimension = column.dimension
  shared = ' (shared)' if _kind(column) == 'SharedEmbeddingColumn' else ''
  columns.mappings.append(
      Mapping(
          name,
          f'embedding{shared} ({column.combiner})',
          'CategoricalIds + SparseCombiner',
          True,
      )
  )
  return spec_lib.EmbeddingColumn(
      name=name,
      categorical=ids,
      num_buckets=columns.categorical[ids].num_buckets,
      dimension=int(dimension),
      combiner=column.combiner,
      weight=weight,
  )


def dnn_columns(
    columns: Columns, feature_columns: Iterable, scope: str
) -> list[spec_lib.DnnColumn]:
  """Specs of the DNN input layer's columns (dense outputs)."""
  out = []
  for column in feature_columns:
    kind = _kind(column)
    name = column.name
    if kind == 'NumericColumn':
      out.append(_numeric_column(columns, column, 'Input + Flatten'))
    elif kind in ('EmbeddingColumn', 'SharedEmbeddingColumn'):
      out.append(_embedding(columns, column, scope))
    elif kind in ('IndicatorColumn', 'BucketizedColumn'):
      source = (
          column.categorical_column if kind == 'IndicatorColumn' else column
      )
      ids = _register_categorical(columns, source, name)
      out.append(
          spec_lib.IndicatorColumn(
              name=name,
              categorical=ids,
              num_buckets=columns.categorical[ids].num_buckets,
          )
      )
      columns.mappings.append(
          Mapping(name, kind, 'CategoricalIds + MultiHot', True)
      )
    else:
      raise ColumnError(
          f'column {name!r} ({type(column).__name__}) cannot feed a DNN'
          ' here. Supported: numeric, bucketized, indicator and embedding'
          ' columns over the categorical columns'
          f' {", ".join(SUPPORTED[2:8])}.'
      )
  return out


def linear_columns(
    columns: Columns, feature_columns: Iterable, scope: str
) -> list[spec_lib.LinearColumn]:
  """Specs of the linear model's columns (each owns a weight variable)."""
  out = []
  for column in feature_columns:
    kind = _kind(column)
    name = column.name
    weight = f'{scope}/linear_model/{name}/weights'
    if kind == 'NumericColumn':
      out.append(
          _numeric_column(columns, column, 'Dense (no bias)', weight=weight)
      )
      continue
    ids = _register_categorical(columns, column, name)
    out.append(
        spec_lib.CategoricalColumn(
            name=name,
            categorical=ids,
            num_buckets=columns.categorical[ids].num_buckets,
            weight=weight,
        )
    )
    columns.mappings.append(
        Mapping(name, kind, 'CategoricalIds + SparseCombiner', True)
    )
  return out
