"""The export spec (`export/spec.py`): round trip, versions, shared names.

Every family and column kind the export tests build (their kwargs, no
training) is turned into a spec and read back from its JSON; a spec.json
of another schema version, with an unknown or missing key, or a value of
another type is refused naming it. The names the TF 2.15 side and the
templates (`keras3/canned_model.py`, `keras3/custom_model.py`, which import
nothing of the package) both use are defined once in `spec.py`; the
templates' copies are checked equal here.
"""

import ast
import copy
import dataclasses
import itertools
import json
import os

from absl.testing import absltest
from absl.testing import parameterized
import tensorflow as tf

from estimator_migrate import keras3
from estimator_migrate.export import codegen
from estimator_migrate.export import custom
from estimator_migrate.export import families
from estimator_migrate.export import optimizer_state
from estimator_migrate.export import spec as spec_lib
from tests import export_cases

fc = tf.feature_column
_ADAM = {
    'name': 'Adam',
    'class': 'Adam',
    'config': {'learning_rate': 0.01, 'epsilon': 1e-07, 'amsgrad': False},
    'iterations': 3,
    'variables': ['dnn/logits/kernel', 'dnn/logits/bias'],
    'slots': {
        '_momentums': [
            'optimizer/Adam/dnn/logits/kernel/m',
            'optimizer/Adam/dnn/logits/bias/m',
        ],
        '_velocities': [
            'optimizer/Adam/dnn/logits/kernel/v',
            'optimizer/Adam/dnn/logits/bias/v',
        ],
    },
}
_TRAINING = (
    spec_lib.Training.of([_ADAM], None),
    spec_lib.Training.of([], 'no optimizer state for [...]'),
)


def _kwargs_of_the_export_tests(vocabulary_file: str) -> dict:
  """Every case the export tests build: name -> (estimator, kwargs)."""
  out = {}
  kwargs = export_cases.coverage_kwargs()
  cases = {**export_cases.COVERAGE_CASES, **export_cases.COVERAGE_CONTINUE}
  for name, (estimator, *_) in cases.items():
    out[f'coverage_{name}'] = (estimator, kwargs[name])
  kwargs = export_cases.parity_kwargs(vocabulary_file)
  for name, (estimator, _) in export_cases.PARITY_CASES.items():
    out[f'parity_{name}'] = (estimator, kwargs[name])
  word = fc.categorical_column_with_vocabulary_list('word', ['a', 'b'])
  out['identity_no_default'] = (
      'LinearRegressor',
      dict(feature_columns=[fc.categorical_column_with_identity('n', 3)]),
  )
  out['regressor_embedding'] = (
      'DNNRegressor',
      dict(hidden_units=[2], feature_columns=[fc.embedding_column(word, 2)]),
  )
  return out


class RoundTripTest(parameterized.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    directory = absltest.get_default_test_tmpdir()
    path = os.path.join(directory, 'export_spec_test_words.txt')
    with open(path, 'w') as f:
      f.write('gamma\nalpha\nbeta\nunused\n')
    cls.models = {
        name: families.model_spec(estimator, kwargs).spec
        for name, (estimator, kwargs) in _kwargs_of_the_export_tests(
            path
        ).items()
    }

  def test_every_family_and_column_kind_is_covered(self):
    kinds = set()
    for model in self.models.values():
      kinds.add(model.head.type)
      kinds |= {c.TAG[1] for c in model.categorical.values()}
      for part in ('baseline', 'dnn', 'linear'):
        tower = getattr(model, part)
        if tower is not None:
          kinds.add(part)
          columns = getattr(tower, 'columns', ())
          kinds |= {f'{part}.{c.TAG[1]}' for c in columns}
      if model.dnn is not None:
        kinds.add(f'batch_norm={model.dnn.batch_norm}')
    self.assertEqual(
        kinds,
        {
            'regression',
            'binary',
            'multi_class',
            'baseline',
            'dnn',
            'linear',
            'bucketized',
            'vocabulary',
            'identity',
            'hash',
            'crossed',
            'weighted',
            'dnn.numeric',
            'dnn.embedding',
            'dnn.indicator',
            'linear.numeric',
            'linear.categorical',
            'batch_norm=True',
            'batch_norm=False',
        },
    )

  def test_canned_specs_read_back_equal(self):
    for name, model in self.models.items():
      for training in _TRAINING:
        with self.subTest(name=name, carried=bool(training.optimizers)):
          spec = spec_lib.CannedSpec(model, training, 'sum')
          text = spec.to_json()
          data = json.loads(text)
          self.assertEqual(data, spec.to_dict())
          self.assertEqual(data['schema_version'], spec_lib.SCHEMA_VERSION)
          self.assertEqual(spec_lib.from_json(text), spec)
          self.assertEqual(spec_lib.CannedSpec.from_dict(data), spec)
          self.assertEqual(spec_lib.from_json(text).to_json(), text)

  def test_custom_spec_reads_back_equal(self):
    # weight_paths (version 3) is absent from version 2's custom specs.
    for training, paths in itertools.product(
        _TRAINING, (None, ['dense_3/kernel'])
    ):
      spec = spec_lib.CustomSpec(
          spec_lib.CustomModel(
              builder='my_pkg.models:build',
              builder_path='/src',
              params={'units': [3, 4], 'nested': {'a': None, 'b': 1.5}},
              checkpoint_format='object-based',
              trainable=['dense/kernel'],
              non_trainable=[],
              shapes={'dense/kernel': [3, 4]},
              weight_paths=paths,
          ),
          training,
          {'class_name': 'SparseCategoricalCrossentropy', 'config': {}},
      )
      text = spec.to_json()
      self.assertEqual('weight_paths' in json.loads(text), paths is not None)
      self.assertEqual(spec_lib.from_json(text), spec)
      self.assertEqual(spec_lib.from_json(text).to_json(), text)
      self.assertIsInstance(spec_lib.from_json(text), spec_lib.CustomSpec)

  def test_01s_dict_reads_still_work_and_warn(self):
    model = self.models['coverage_weighted_combined']
    spec = spec_lib.CannedSpec(model, _TRAINING[0], 'sum')
    with self.assertWarnsRegex(DeprecationWarning, "spec\\['weights'\\]"):
      weights = spec['weights']
    self.assertEqual(weights, spec.to_dict()['weights'])
    with self.assertWarns(DeprecationWarning), self.assertRaises(KeyError):
      _ = spec['no_such_key']

  def test_spec_is_frozen(self):
    model = self.models['coverage_weighted_combined']
    with self.assertRaises(dataclasses.FrozenInstanceError):
      model.estimator = 'x'
    with self.assertRaises(TypeError):
      model.inputs['x'] = None  # a read-only mapping
    self.assertIsInstance(model.dnn.hidden_units, tuple)

  def test_spec_json_keys_are_version_01s_plus_the_version(self):
    spec = spec_lib.CannedSpec(
        self.models['parity_combined_crossed'], _TRAINING[0], 'sum'
    )
    self.assertEqual(
        sorted(spec.to_dict()),
        [
            'categorical',
            'compile_unavailable',
            'dnn',
            'estimator',
            'head',
            'inputs',
            'linear',
            'loss_reduction',
            'optimizers',
            'schema_version',
            'weights',
        ],
    )
    (optimizer,) = spec.to_dict()['optimizers']
    self.assertEqual(optimizer, _ADAM)


class VersionTest(parameterized.TestCase):

  def setUp(self):
    super().setUp()
    model = families.model_spec(
        'DNNClassifier',
        dict(hidden_units=[2], feature_columns=[fc.numeric_column('x')]),
    ).spec
    self.spec = spec_lib.CannedSpec(model, _TRAINING[0], 'sum')
    self.data = self.spec.to_dict()

  def test_missing_version_is_refused_unless_asked(self):
    del self.data['schema_version']
    with self.assertRaisesRegex(spec_lib.SpecError, 'no schema_version'):
      spec_lib.from_dict(self.data)
    self.assertEqual(spec_lib.from_dict(self.data, unversioned=True), self.spec)

  @parameterized.named_parameters(('version_1', 1), ('version_2', 2))
  def test_older_version_is_read(self, version):
    # estimator_migrate 0.2 wrote version 1, 0.3 and 0.4.0 version 2: their
    # keys are the current ones without the optional sections added since.
    self.data['schema_version'] = version
    self.assertEqual(spec_lib.from_dict(self.data), self.spec)
    self.assertEqual(self.spec.to_dict()['schema_version'], 3)

  @parameterized.named_parameters(
      ('newer', 4), ('string', '1'), ('bool', True), ('zero', 0)
  )
  def test_unknown_version_is_refused(self, version):
    self.data['schema_version'] = version
    with self.assertRaisesRegex(
        spec_lib.SpecError, f'schema_version {version!r}; .* reads 1, 2, 3'
    ):
      spec_lib.from_dict(self.data)

  @parameterized.named_parameters(
      ('unknown_key', lambda d: d.update(extra={}), 'unknown keys extra'),
      ('missing_key', lambda d: d.pop('loss_reduction'), 'lacks loss_red'),
      (
          'unknown_nested_key',
          lambda d: d['dnn'].update(width=3),
          r'spec.json dnn has unknown keys width',
      ),
      (
          'wrong_type',
          lambda d: d['dnn']['hidden_units'].append('3'),
          r'dnn.hidden_units\[1\] is \'3\', not int',
      ),
      (
          'unknown_column_type',
          lambda d: d['dnn']['columns'][0].update(type='sequence'),
          r'dnn.columns\[0\] has type \'sequence\', not one of numeric',
      ),
      (
          'optimizer_class_missing',
          lambda d: d['optimizers'][0].pop('class'),
          r'optimizers\[0\] lacks class',
      ),
  )
  def test_other_layout_is_refused_naming_the_key(self, edit, pattern):
    data = copy.deepcopy(self.data)
    edit(data)
    with self.assertRaisesRegex(spec_lib.SpecError, pattern):
      spec_lib.from_dict(data)

  def test_not_json_is_refused(self):
    with self.assertRaisesRegex(spec_lib.SpecError, 'not JSON'):
      spec_lib.from_json('{')
    with self.assertRaisesRegex(spec_lib.SpecError, 'holds list'):
      spec_lib.from_json('[]')


def _definitions(path: str) -> dict:
  """A module's top-level assignments and functions, by name, as AST."""
  with open(path, encoding='utf-8') as f:
    tree = ast.parse(f.read())
  out = {}
  for node in tree.body:
    if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
      out[node.targets[0].id] = node.value
    elif isinstance(node, ast.FunctionDef):
      out[node.name] = node
  return out


def _renamed(function: ast.FunctionDef) -> ast.FunctionDef:
  """The function without its name (spec.py's are public, model.py's not)."""
  function = copy.deepcopy(function)
  function.name = ''
  return function


class SharedNamesTest(absltest.TestCase):
  """Names both sides use: spec.py's, and the templates' copies equal."""

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.canned = _definitions(codegen.TEMPLATE)
    cls.custom = _definitions(codegen.CUSTOM_TEMPLATE)
    cls.spec = _definitions(spec_lib.__file__)

  def value(self, template: dict, name: str):
    return ast.literal_eval(template[name])

  def test_served_strings(self):
    # What saved_model/ feeds a served variable-length string feature and
    # what model.py reads from it.
    served = _definitions(keras3.path('serving_signatures.py'))
    for name in (
        'SERVED_PAD',
        'SERVED_EMPTY',
        'SERVED_INT_PAD',
        'SERVED_MINUS_ONE',
    ):
      self.assertEqual(self.value(self.canned, name), self.value(served, name))

  def test_constants(self):
    for template in (self.canned, self.custom):
      self.assertEqual(
          self.value(template, 'SCHEMA_VERSION'), spec_lib.SCHEMA_VERSION
      )
      self.assertEqual(self.value(template, 'READABLE'), spec_lib.READABLE)
      self.assertEqual(self.value(template, 'SPEC'), spec_lib.SPEC_FILE)
      self.assertEqual(self.value(template, 'WEIGHTS'), spec_lib.WEIGHTS_FILE)
    self.assertEqual(self.value(self.canned, 'BATCH'), spec_lib.BASELINE_INPUT)
    self.assertEqual(custom.TEMPLATE, codegen.CUSTOM_TEMPLATE)

  def test_spec_keys(self):
    for template, kind in (
        (self.canned, spec_lib.CannedSpec),
        (self.custom, spec_lib.CustomSpec),
    ):
      always, sections = spec_lib.top_level_keys(kind)
      self.assertEqual(self.value(template, 'SPEC_KEYS'), always)
      self.assertEqual(self.value(template, 'SPEC_SECTIONS'), sections)

  def test_layer_names(self):
    for name in (
        'layer_name',
        'hidden_layer_scope',
        'batch_norm_scope',
        'logits_scope',
    ):
      self.assertEqual(
          ast.dump(_renamed(self.spec[name])),
          ast.dump(_renamed(self.canned[f'_{name}'])),
          name,
      )

  def test_optimizer_classes(self):
    def keys(template):
      return [ast.literal_eval(k) for k in template['OPTIMIZERS'].keys]

    self.assertCountEqual(keys(self.canned), optimizer_state.KERAS3_V1)
    self.assertEqual(tuple(keys(self.custom)), custom.COMPILABLE)


if __name__ == '__main__':
  absltest.main()
