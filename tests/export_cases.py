"""The estimators the export tests build: their kwargs and classes.

`export_parity_test` and `export_coverage_test` train and export them;
`export_spec_test` reads each one's spec back from its JSON (no training).
"""

import tensorflow as tf

fc = tf.feature_column
fc1 = tf.compat.v1.feature_column
v1 = tf.compat.v1.estimator


def parity_kwargs(vocabulary_file: str) -> dict:
  age = fc.numeric_column('age')
  zeta = fc.numeric_column('zeta', shape=(2,))
  word = fc.categorical_column_with_vocabulary_list(
      'word', ['alpha', 'beta', 'gamma'], num_oov_buckets=2
  )
  word_file = fc.categorical_column_with_vocabulary_file(
      'word', vocabulary_file, vocabulary_size=3, default_value=1
  )
  city = fc.categorical_column_with_hash_bucket('city', 7)
  code = fc.categorical_column_with_identity('code', 4, default_value=0)
  code_strict = fc.categorical_column_with_identity('code', 8)
  item = fc.categorical_column_with_vocabulary_list(
      'item', [5, 10, 20], dtype=tf.int64
  )
  item_hash = fc.categorical_column_with_hash_bucket('item', 6, dtype=tf.int64)
  age_buckets = fc.bucketized_column(age, [-0.5, 0.0, 0.5])
  zeta_buckets = fc.bucketized_column(zeta, [0.0])
  return {
      'dnn_binary': dict(
          hidden_units=[5, 3],
          activation_fn=tf.nn.tanh,
          dropout=0.2,
          feature_columns=[
              zeta,
              fc.indicator_column(city),
              fc.embedding_column(word, 3, combiner='mean'),
              age_buckets,
          ],
      ),
      'dnn_multi_class': dict(
          hidden_units=[4],
          n_classes=3,
          feature_columns=[
              fc.embedding_column(code, 2, combiner='sum'),
              fc.embedding_column(item_hash, 2, combiner='sqrtn'),
              age,
          ],
      ),
      'dnn_regressor': dict(
          hidden_units=[4],
          label_dimension=2,
          feature_columns=[
              fc.indicator_column(item),
              fc.embedding_column(word_file, 2, combiner='sqrtn'),
              zeta_buckets,
          ],
      ),
      'linear_classifier': dict(
          n_classes=4,
          sparse_combiner='mean',
          feature_columns=[zeta, word_file, item, code_strict, city],
      ),
      'linear_regressor': dict(
          sparse_combiner='sqrtn',
          weight_column='weight',
          feature_columns=[age, zeta_buckets, item_hash, word],
      ),
      'combined_multi_class': dict(
          n_classes=3,
          dnn_hidden_units=[4],
          dnn_feature_columns=[
              fc.embedding_column(word, 2),
              zeta,
              fc.indicator_column(code),
          ],
          linear_feature_columns=[word, age_buckets, city, item],
      ),
      'combined_crossed': dict(
          n_classes=3,
          dnn_hidden_units=[3],
          dnn_feature_columns=[
              fc.embedding_column(fc.crossed_column(['word', code], 9), 2),
              fc.indicator_column(fc.crossed_column(['city', age_buckets], 5)),
          ],
          linear_feature_columns=[
              fc.crossed_column(['city', word], 11),
              fc.crossed_column(
                  [age_buckets, fc.crossed_column(['city', code], 3)],
                  13,
                  hash_key=7,
              ),
          ],
      ),
      'combined_binary_label_vocabulary': dict(
          label_vocabulary=['no', 'yes'],
          weight_column='weight',
          dnn_hidden_units=[3],
          dnn_feature_columns=[age, fc.embedding_column(city, 2)],
          linear_feature_columns=[word, code, zeta],
          linear_sparse_combiner='mean',
      ),
  }


# case name -> (estimator class, label kind)
PARITY_CASES = {
    'dnn_binary': (tf.estimator.DNNClassifier, 'classes2'),
    'dnn_multi_class': (tf.compat.v1.estimator.DNNClassifier, 'classes3'),
    'dnn_regressor': (tf.estimator.DNNRegressor, 'regression2'),
    'linear_classifier': (tf.estimator.LinearClassifier, 'classes4'),
    'linear_regressor': (tf.compat.v1.estimator.LinearRegressor, 'regression1'),
    'combined_multi_class': (
        tf.estimator.DNNLinearCombinedClassifier,
        'classes3',
    ),
    'combined_crossed': (tf.estimator.DNNLinearCombinedClassifier, 'classes3'),
    'combined_binary_label_vocabulary': (
        tf.compat.v1.estimator.DNNLinearCombinedClassifier,
        'vocabulary',
    ),
}


def _v2_shared(word, tag):
  # TF 2.15 builds v2 shared embeddings only in graph mode.
  with tf.Graph().as_default():
    return fc.shared_embeddings([word, tag], 2, combiner='sqrtn')


def _v1_shared(word, tag):
  with tf.Graph().as_default():
    return fc1.shared_embedding_columns([word, tag], 3)


def coverage_kwargs() -> dict:
  x = fc.numeric_column('x', shape=(2,))
  word = fc.categorical_column_with_vocabulary_list('word', ['a', 'b', 'c'])
  tag = fc.categorical_column_with_vocabulary_list(
      'tag', ['a', 'b', 'c'], num_oov_buckets=1
  )
  tag3 = fc.categorical_column_with_vocabulary_list('tag', ['q', 'c', 'a'])
  weighted = fc.weighted_categorical_column(word, 'wt')
  num_oov = fc.categorical_column_with_vocabulary_list(
      'num', [3, 5, 8], dtype=tf.int64, num_oov_buckets=3
  )
  num_default = fc.categorical_column_with_vocabulary_list(
      'num', [8, 5, 1000], dtype=tf.int64, default_value=1
  )
  num_hash = fc.categorical_column_with_hash_bucket('num', 4, dtype=tf.int64)
  partitioner = tf.compat.v1.fixed_size_partitioner(2)
  return {
      'baseline_multi_class': dict(n_classes=3, weight_column='weight'),
      'baseline_binary_vocabulary': dict(label_vocabulary=['no', 'yes']),
      'baseline_regressor_v1': dict(label_dimension=2),
      'weighted_combined': dict(
          dnn_hidden_units=[3],
          dnn_feature_columns=[
              fc.embedding_column(weighted, 2, combiner='mean'),
              fc.indicator_column(weighted),
          ],
          linear_feature_columns=[weighted, x],
          linear_sparse_combiner='sqrtn',
      ),
      'weighted_dnn_sqrtn_v1': dict(
          hidden_units=[3],
          n_classes=3,
          feature_columns=[fc.embedding_column(weighted, 2, combiner='sqrtn')],
      ),
      'shared_v2': dict(
          hidden_units=[3], feature_columns=[x, *_v2_shared(word, tag3)]
      ),
      'shared_v1': dict(
          hidden_units=[3],
          label_dimension=2,
          feature_columns=[*_v1_shared(word, tag3), x],
      ),
      'int_vocabulary': dict(
          n_classes=3,
          dnn_hidden_units=[3],
          dnn_feature_columns=[
              fc.embedding_column(num_oov, 2),
              fc.indicator_column(num_hash),
          ],
          linear_feature_columns=[num_default],
      ),
      'batch_norm': dict(
          hidden_units=[4, 3],
          batch_norm=True,
          dropout=0.1,
          activation_fn=tf.nn.elu,
          feature_columns=[x, fc.embedding_column(tag, 2)],
      ),
      'batch_norm_v1': dict(
          hidden_units=[3],
          batch_norm=True,
          feature_columns=[x],
      ),
      'partitioned_v1': dict(
          input_layer_partitioner=partitioner,
          dnn_hidden_units=[3],
          dnn_feature_columns=[fc.embedding_column(tag, 4), x],
          linear_feature_columns=[word, tag],
      ),
      'partitioned_linear_v1': dict(
          partitioner=partitioner, feature_columns=[word, num_oov, x]
      ),
      'v1_dnn_direct': dict(
          hidden_units=[3],
          n_classes=3,
          feature_columns=[fc.embedding_column(tag, 2), x],
      ),
      'v1_combined_direct': dict(
          dnn_hidden_units=[3],
          dnn_feature_columns=[fc.embedding_column(tag, 2), x],
          linear_feature_columns=[word, tag],
      ),
      'v1_linear_converted': dict(
          label_dimension=2,
          optimizer=lambda: tf.compat.v1.train.AdamOptimizer(0.05),
          feature_columns=[word, tag, x],
      ),
      'baseline_ftrl_v1': dict(n_classes=3),
  }


# name -> (estimator class, label kind, continue training?)
COVERAGE_CASES = {
    'baseline_multi_class': (tf.estimator.BaselineClassifier, 'classes3'),
    'baseline_binary_vocabulary': (
        tf.estimator.BaselineClassifier,
        'vocabulary',
    ),
    'baseline_regressor_v1': (v1.BaselineRegressor, 'regression2'),
    'weighted_combined': (
        tf.estimator.DNNLinearCombinedRegressor,
        'regression1',
    ),
    'weighted_dnn_sqrtn_v1': (v1.DNNClassifier, 'classes3'),
    'shared_v2': (tf.estimator.DNNClassifier, 'classes2'),
    'shared_v1': (v1.DNNRegressor, 'regression2'),
    'int_vocabulary': (tf.estimator.DNNLinearCombinedClassifier, 'classes3'),
    'batch_norm': (tf.estimator.DNNClassifier, 'classes2'),
    'batch_norm_v1': (v1.DNNRegressor, 'regression1'),
    # A partitioned bias of 3 classes breaks TF's own summary: binary.
    'partitioned_v1': (v1.DNNLinearCombinedClassifier, 'classes2'),
    'partitioned_linear_v1': (v1.LinearRegressor, 'regression1'),
}
# Continuation: a v1 estimator exported directly (optimizers from the graph)
# or converted first; v1 defaults: Adagrad (DNN), Ftrl (linear, baseline).
COVERAGE_CONTINUE = {
    'v1_dnn_direct': (v1.DNNClassifier, 'classes3', ('Adagrad',)),
    'v1_combined_direct': (
        v1.DNNLinearCombinedClassifier,
        'classes2',
        ('Adagrad', 'Ftrl'),
    ),
    'v1_linear_converted': (v1.LinearRegressor, 'regression2', ('Adam',)),
    'baseline_ftrl_v1': (v1.BaselineClassifier, 'classes3', ('Ftrl',)),
}
