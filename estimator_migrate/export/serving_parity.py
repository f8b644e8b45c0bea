"""Serving parity: an export's `saved_model/` against the estimator's own.

`compare_saved_models` loads each pair side by side in the modern
environment (`keras3/serving_proof.py`, one subprocess for every pair): every
signature of the estimator's SavedModel is called on both with the same
inputs (serialized tf.Examples, or raw tensors for a raw receiver), and a
TensorFlow Serving client's Classify, Regress and Predict requests
(`tensorflow-serving-api`'s protos, answered by an in-process handler that
maps them to signatures as Serving does) go to both. Each pair's
`ServingParity` says whether the SignatureDefs and the `saved_model_cli show
--all` listings are identical, and measures every output and answer: the
largest |difference| of floats, exact equality of strings and integers.

Example:
  (served,) = serving_parity.compare_saved_models(
      [('/models/estimator/1700000000', '/models/keras3/saved_model',
        {'examples': serialized})])
  assert served.ok(1e-6), served.problems(1e-6)
"""

from collections.abc import Mapping, Sequence
import dataclasses
import math
import os

import numpy as np

from estimator_migrate import errors
from estimator_migrate import report as report_lib
from estimator_migrate.export import modern

ESTIMATOR = 'estimator'
OURS = 'ours'
CLIENT = 'client'
# Signatures of the export alone (its feature-dict signature, TF 2's init
# function): not the estimator's, left out of the comparison.
OWN = ('serving_raw', '__saved_model_init_op')


@dataclasses.dataclass(frozen=True)
class ServingParity:
  """Both SavedModels serving the same requests, side by side.

  Attributes:
    signatures: Side (`'estimator'`, `'ours'`) -> signature key -> its
      SignatureDef without tensor names: `{'method', 'inputs', 'outputs'}`,
      each input and output as [dtype name, shape].
    listings: Side -> `saved_model_cli show --all`'s SignatureDefs with the
      tensor names left out (and the export's own signatures, `OWN`).
    errors: Side -> signature key -> the error Serving answers its request
      with (e.g. Regress on a 3-dimensional regression).
    outputs: `<side>/<signature>/<key>` (each signature's outputs) and
      `client/<side>/<signature>/<field>` (the Serving answers: `labels`,
      `scores`, `values`, or Predict's output keys) -> array.
  """

  signatures: Mapping[str, Mapping[str, Mapping]]
  listings: Mapping[str, str]
  errors: Mapping[str, Mapping[str, str]]
  outputs: Mapping[str, np.ndarray]

  @property
  def estimator_signatures(self) -> dict[str, Mapping]:
    """The estimator's signatures (but `OWN`, which a TF 2 SavedModel has)."""
    return {k: v for k, v in self.signatures[ESTIMATOR].items() if k not in OWN}

  @property
  def export_signatures(self) -> dict[str, Mapping]:
    """The export's signatures but its own (`OWN`)."""
    return {k: v for k, v in self.signatures[OURS].items() if k not in OWN}

  @property
  def signatures_equal(self) -> bool:
    """Same keys, methods, inputs and outputs (dtypes and shapes)."""
    return self.export_signatures == self.estimator_signatures

  @property
  def listings_equal(self) -> bool:
    return self.listings[OURS] == self.listings[ESTIMATOR]

  @property
  def errors_equal(self) -> bool:
    return dict(self.errors[OURS]) == dict(self.errors[ESTIMATOR])

  @property
  def differences(self) -> dict[str, float]:
    """Per estimator output and answer (side left out): max |difference|.

    Strings and integers count 0 when identical; anything missing from the
    export, of another dtype or shape, or unequal counts `inf`.
    """
    out = {}
    for key, want in sorted(self.outputs.items()):
      parts = key.split('/')
      if parts[0] == CLIENT and parts[1] == ESTIMATOR:
        theirs, name = key, '/'.join([CLIENT, *parts[2:]])
      elif parts[0] == ESTIMATOR:
        theirs, name = key, '/'.join(parts[1:])
      else:
        continue
      got = self.outputs.get(theirs.replace(ESTIMATOR, OURS, 1))
      out[name] = _difference(want, got)
    return out

  @property
  def max_abs_diff(self) -> float:
    """The largest difference over every output and answer (inf: unequal)."""
    return max(self.differences.values(), default=0.0)

  @property
  def mismatched(self) -> tuple[str, ...]:
    """Outputs and answers missing, reshaped or unequal (not a float gap)."""
    return tuple(k for k, v in self.differences.items() if math.isinf(v))

  @property
  def answered(self) -> tuple[str, ...]:
    """The signatures whose Serving request the estimator's model answered."""
    prefix = f'{CLIENT}/{ESTIMATOR}/'
    return tuple(
        sorted(
            {
                k[len(prefix) :].split('/')[0]
                for k in self.outputs
                if k.startswith(prefix)
            }
        )
    )

  def problems(self, tolerance: float) -> list[str]:
    """What differs, one line each; empty when the export serves alike."""
    out = []
    if not self.signatures_equal:
      out.append(
          'signature defs differ: estimator'
          f' {_brief(self.estimator_signatures)}, export'
          f' {_brief(self.export_signatures)}'
      )
    if not self.listings_equal:
      out.append('saved_model_cli show --all listings differ')
    if not self.errors_equal:
      out.append(
          f'Serving errors differ: estimator {dict(self.errors[ESTIMATOR])},'
          f' export {dict(self.errors[OURS])}'
      )
    if self.mismatched:
      out.append(
          'outputs missing or unequal (dtype, shape, strings or integers):'
          f' {", ".join(self.mismatched)}'
      )
    finite = [v for v in self.differences.values() if not math.isinf(v)]
    worst = max(finite, default=0.0)
    if worst > tolerance:
      out.append(f'float outputs differ by {worst:.3g} > {tolerance:g}')
    if not self.differences:
      out.append('no output was compared')
    return out

  def ok(self, tolerance: float) -> bool:
    return not self.problems(tolerance)

  def table(self) -> str:
    """Per signature: its method and the largest gap of outputs and answer."""
    rows = []
    differences = self.differences
    for name, signature in sorted(self.estimator_signatures.items()):
      own = [v for k, v in differences.items() if k.split('/')[0] == name]
      client = [
          v for k, v in differences.items() if k.startswith(f'{CLIENT}/{name}/')
      ]
      error = self.errors[ESTIMATOR].get(name)
      rows.append(
          (
              name,
              signature['method'].rsplit('/', 1)[-1],
              _format(own),
              f'refused alike: {error}' if error else _format(client),
          )
      )
    return report_lib.markdown_table(
        (
            'signature',
            'method',
            'outputs: max |estimator - export|',
            'Serving answer: max |estimator - export|',
        ),
        rows,
    )


def _brief(signatures: Mapping[str, Mapping]) -> str:
  return str({k: s['method'] for k, s in sorted(signatures.items())})


def _format(values: Sequence[float]) -> str:
  if not values:
    return 'n/a'
  worst = max(values)
  return 'unequal' if math.isinf(worst) else f'{worst:.2g}'


def _difference(want: np.ndarray, got: np.ndarray | None) -> float:
  if got is None or got.dtype != want.dtype or got.shape != want.shape:
    return math.inf
  if want.dtype.kind == 'f':
    if np.any(np.isnan(want) != np.isnan(got)):
      return math.inf
    if not want.size:
      return 0.0
    gap = np.abs(got.astype(np.float64) - want.astype(np.float64))
    return float(np.max(np.where(np.isnan(want), 0.0, gap)))
  return 0.0 if np.array_equal(got, want) else math.inf


def examples_inputs(examples: Sequence[bytes]) -> dict[str, np.ndarray]:
  """Serialized tf.Examples as `compare_saved_models` carries them.

  One byte buffer and the lengths: a numpy bytes array would drop each
  example's trailing zero bytes (a last feature of `''` or 0).
  """
  examples = [bytes(e) for e in examples]
  if not examples:
    raise errors.MigrationError('no tf.Example to serve: give at least one.')
  return {
      'examples_bytes': np.frombuffer(b''.join(examples), dtype=np.uint8),
      'examples_lengths': np.array([len(e) for e in examples], np.int64),
  }


def compare_saved_models(
    jobs: Sequence[tuple[str, str, Mapping[str, object]]],
    *,
    timeout: float = 900,
) -> list[ServingParity]:
  """Serves each (estimator SavedModel, export SavedModel, inputs) pair.

  Args:
    jobs: (the estimator's SavedModel directory, the export's
      `saved_model/`, inputs): inputs `{'examples': [serialized tf.Example,
      ...]}` for a parsing receiver, else the raw receiver's tensors by key
      (arrays with one row per request).
    timeout: Seconds for the whole modern subprocess.

  Returns:
    One `ServingParity` per job, in order.

  Raises:
    MigrationError: A directory holds no SavedModel, there is no modern
      environment (or it lacks `tensorflow-serving-api`), or serving failed
      there (one line: its last error line).
  """
  specs = []
  for estimator_dir, export_dir, inputs in jobs:
    for path in (estimator_dir, export_dir):
      if not os.path.isfile(os.path.join(path, 'saved_model.pb')):
        raise errors.MigrationError(
            f'{path} holds no saved_model.pb: give the directory'
            " `export_saved_model` returned, and the export's"
            ' `saved_model/` (written when the export is saved with a'
            ' SavedModel).'
        )
    inputs = dict(inputs)
    if 'examples' in inputs:
      inputs = examples_inputs(inputs.pop('examples'))
    specs.append(
        (
            os.path.abspath(estimator_dir),
            os.path.abspath(export_dir),
            {k: np.asarray(v) for k, v in inputs.items()},
            modern.OUTPUT,
        )
    )
  replies = modern.run_jobs(
      'serving_proof.py',
      specs,
      what='serving the SavedModels side by side',
      advice=(
          'Check that both load with tf.saved_model.load in the modern'
          ' environment.'
      ),
      timeout=timeout,
  )
  return [
      ServingParity(
          signatures=reply['signatures'],
          listings=reply['listing'],
          errors=reply['errors'],
          outputs=outputs,
      )
      for reply, outputs in replies
  ]
