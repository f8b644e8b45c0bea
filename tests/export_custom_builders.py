"""Keras model builders for tests/export_custom_test.py.

Importable on both stacks (`tf.keras` is Keras 2 on TF 2.15, Keras 3 on TF
2.21): the export's model.py imports them by reference.
"""

import collections

import tensorflow as tf


def dense(params):
  """A two-layer Dense classifier: 3 features -> logits of `classes`."""
  return tf.keras.Sequential(
      [
          tf.keras.Input((3,), name='x'),
          tf.keras.layers.Dense(params.get('units', 4), activation='tanh'),
          tf.keras.layers.Dense(params.get('classes', 3)),
      ]
  )


def wider(params):
  """`dense` with a wider hidden layer: a model the checkpoint is not."""
  return dense({**params, 'units': params.get('units', 4) + 2})


def batch_norm(params):
  """`dense` with BatchNormalization: non-trainable weights too.

  The Dense before it has no bias, which BatchNormalization would cancel
  (its gradient is rounding noise, which Adam scales up to steps of lr).
  """
  return tf.keras.Sequential(
      [
          tf.keras.Input((3,), name='x'),
          tf.keras.layers.Dense(params.get('units', 4), use_bias=False),
          tf.keras.layers.BatchNormalization(),
          tf.keras.layers.Activation('tanh'),
          tf.keras.layers.Dense(params.get('classes', 3)),
      ]
  )


def regressor(params):
  """One output, a number: 3 features -> `units` hidden -> 1."""
  return tf.keras.Sequential(
      [
          tf.keras.Input((3,), name='x'),
          tf.keras.layers.Dense(params.get('units', 4), activation='relu'),
          tf.keras.layers.Dense(1),
      ]
  )


def two_heads(params):
  """Two inputs (`a`, `b`) and two named outputs: `logits` and `score`.

  Named layers: `to_estimator` serves its outputs by output name, which
  Keras numbers for unnamed layers by how many the process built.
  """
  a = tf.keras.Input((2,), name='a')
  b = tf.keras.Input((1,), name='b')
  hidden = tf.keras.layers.Dense(
      params.get('units', 4), activation='tanh', name='hidden'
  )(tf.keras.layers.Concatenate(name='joined')([a, b]))
  logits = tf.keras.layers.Dense(params.get('classes', 3), name='logits')(
      hidden
  )
  score = tf.keras.layers.Dense(1, activation='sigmoid', name='score')(hidden)
  return tf.keras.Model({'a': a, 'b': b}, [logits, score])


def unbuilt(params):
  """`dense` without an Input: no weights until it is first called."""
  del params
  return tf.keras.Sequential([tf.keras.layers.Dense(3)])


def unbuilt_dense(params):
  """`dense` without its Input: the same layers, built by the first call."""
  return tf.keras.Sequential(
      [
          tf.keras.layers.Dense(params.get('units', 4), activation='tanh'),
          tf.keras.layers.Dense(params.get('classes', 3)),
      ]
  )


def ordered_heads(params):
  """Outputs as an OrderedDict out of key order: `zeta`, then `alpha`.

  Keras 2 flattens them by key (alpha, zeta), Keras 3 in insertion order.
  """
  del params
  x = tf.keras.Input((3,), name='x')
  hidden = tf.keras.layers.Dense(4, activation='tanh', name='hidden')(x)
  zeta = tf.keras.layers.Dense(3, name='zeta')(hidden)
  alpha = tf.keras.layers.Dense(2, name='alpha')(zeta)
  return tf.keras.Model(
      x, collections.OrderedDict([('zeta', zeta), ('alpha', alpha)])
  )


def sibling_heads(params):
  """Two heads of equal shape on one hidden layer, in an OrderedDict.

  `zeta` then `alpha`: Keras 2 orders the model's weights by sorted keys
  (hidden, alpha, zeta), Keras 3 in insertion order (hidden, zeta, alpha);
  by position alone the two heads' weights would be swapped.
  """
  x = tf.keras.Input((3,), name='x')
  hidden = tf.keras.layers.Dense(
      params.get('units', 4), activation='tanh', name='hidden'
  )(x)
  zeta = tf.keras.layers.Dense(2, name='zeta')(hidden)
  alpha = tf.keras.layers.Dense(2, name='alpha')(hidden)
  return tf.keras.Model(
      x, collections.OrderedDict([('zeta', zeta), ('alpha', alpha)])
  )


def sibling_heads_unnamed(params):
  """`sibling_heads` with Keras' own layer names (`dense`, `dense_1`, ...).

  Numbered by how many Dense layers the process built before: the export's
  process and the one loading it number them differently.
  """
  x = tf.keras.Input((3,), name='x')
  hidden = tf.keras.layers.Dense(params.get('units', 4), activation='tanh')(x)
  zeta = tf.keras.layers.Dense(2)(hidden)
  alpha = tf.keras.layers.Dense(2)(hidden)
  return tf.keras.Model(
      x, collections.OrderedDict([('zeta', zeta), ('alpha', alpha)])
  )


def sibling_heads_mixed(params):
  """`sibling_heads_unnamed` whose hidden layer the user named `dense_5`.

  A name of Keras' own pattern: it must stay the hidden layer's whatever
  numbers Keras gives the unnamed heads.
  """
  x = tf.keras.Input((3,), name='x')
  hidden = tf.keras.layers.Dense(
      params.get('units', 4), activation='tanh', name='dense_5'
  )(x)
  zeta = tf.keras.layers.Dense(2)(hidden)
  alpha = tf.keras.layers.Dense(2)(hidden)
  return tf.keras.Model(
      x, collections.OrderedDict([('zeta', zeta), ('alpha', alpha)])
  )


def sibling_heads_eager_only(params):
  """`sibling_heads` from a builder that refuses a graph.

  As a builder that reads data or files as it builds works only eagerly.
  """
  if not tf.executing_eagerly():
    raise RuntimeError('this builder runs eagerly only')
  return sibling_heads(params)
