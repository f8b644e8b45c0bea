"""The demo's results: per-model gaps, the verdict, the report it writes.

`ModelResult` holds one model's TF1-vs-migrated comparison and judges it
against `TOLERANCE`; `DemoReport` gathers both models and the third act
(`keras3_act.Result`) into the table the binary prints and `report.md`.
"""

from collections.abc import Mapping
import dataclasses
import os

from estimator_migrate import report
from estimator_migrate.checkpoints import convert
from estimator_migrate.demo import keras3_act


@dataclasses.dataclass(frozen=True)
class Gap:
  """How far two continued runs of one model ended apart."""

  accuracy: float  # absolute
  loss: float  # relative to the first run's loss
  weights: float  # max absolute weight difference

  def __str__(self) -> str:
    return f'{self.accuracy:.4f} / {self.loss:.2%} / {self.weights:.2g}'


@dataclasses.dataclass(frozen=True)
class Tolerance:
  """How far a migrated model may end from its TF1 original.

  Each measure may differ by `noise_factor` times the run-to-run noise that
  the same run measured (the TF1 continuation done twice from the same
  checkpoint), and never less than its absolute floor: with op determinism
  the noise is 0, and a migrated model then still differs from its original
  by float rounding (its optimizers are Keras code, not v1 kernels).
  """

  floor: Gap
  noise_factor: float
  restored: float = 1e-5  # max |p_tf1 - p_migrated| right after migrating

  def limit(self, noise: Gap) -> Gap:
    return Gap(
        *(
            max(self.noise_factor * measured, floor)
            for measured, floor in zip(
                dataclasses.astuple(noise),
                dataclasses.astuple(self.floor),
                strict=True,
            )
        )
    )


# Floors, for when the noise is 0 (op determinism): an accuracy gap of 1 %
# (3.6 of the 360 digit test images; the penguins model is exact), 1 % of
# the loss, and 1e-2 on a weight: Adam turns float rounding into steps of
# its learning rate (1e-3) on weights whose gradients are near 0, measured
# up to 2.4e-3 after 200 steps on the custom model, so the floor is ten such
# steps. Real migration errors (a wrong learning rate, lost slots) move
# weights by far more: --perturb_lr=100 moves the canned model's by 2.85.
TOLERANCE = Tolerance(
    floor=Gap(accuracy=0.01, loss=0.01, weights=1e-2), noise_factor=4.0
)


@dataclasses.dataclass(frozen=True)
class ModelResult:
  """One model: TF1 continued (twice) vs migrated continued."""

  name: str
  tf1: Mapping[str, float]
  migrated: Mapping[str, float]
  restored_difference: float
  migration: Gap  # TF1 continued vs migrated continued
  noise: Gap  # TF1 continued vs TF1 continued again from the same checkpoint
  tf1_steps_per_second: float
  migrated_steps_per_second: float
  losses: Mapping[str, list]
  tolerance: Tolerance
  notes: tuple[str, ...]

  def problems(self) -> list[str]:
    limit = self.tolerance.limit(self.noise)
    out = []
    if self.migration.accuracy > limit.accuracy:
      out.append(
          f'{self.name}: accuracy differs by {self.migration.accuracy:.4f} >'
          f' {limit.accuracy:.4f}'
      )
    if self.migration.loss > limit.loss:
      out.append(
          f'{self.name}: loss differs by {self.migration.loss:.2%} >'
          f' {limit.loss:.2%}'
      )
    if self.restored_difference > self.tolerance.restored:
      out.append(
          f'{self.name}: right after migration predictions differ by'
          f' {self.restored_difference:.3g} > {self.tolerance.restored}'
      )
    if self.migration.weights > limit.weights:
      out.append(
          f'{self.name}: weights differ by {self.migration.weights:.3g} >'
          f' {limit.weights:.3g}'
      )
    return out


@dataclasses.dataclass(frozen=True)
class DemoReport:
  workdir: str
  steps: int
  models: tuple[ModelResult, ...]
  keras3: tuple[keras3_act.Result, ...]  # the third act, canned and custom
  conversion: convert.ConversionReport
  changes_table: str
  plot_path: str
  deterministic: bool
  seed: int

  def problems(self) -> list[str]:
    return [p for m in self.models for p in m.problems()] + [
        p for k in self.keras3 for p in k.problems()
    ]

  @property
  def ok(self) -> bool:
    return not self.problems()

  def summary(self) -> str:
    """The results tables: the same figures on every run (no timings)."""
    return self.migration_table() + '\n\n' + self.keras3_table()

  def keras3_table(self) -> str:
    """The third act: both models on TF 2.21 and Keras 3."""
    return report.markdown_table(
        keras3_act.HEADER, [k.row() for k in self.keras3]
    )

  def serving_lines(self) -> list[str]:
    """How the SavedModels were served, and per signature what they gave."""
    served = [k for k in self.keras3 if k.serving is not None]
    if not served:
      return []
    lines = [
        f'"{keras3_act.SERVING_COLUMN}": at the export each estimator also'
        ' wrote its own SavedModel, as Estimators are exported for'
        ' TensorFlow Serving (`export_saved_model` with a parsing receiver:'
        " the canned model's `make_parse_example_spec` of its feature"
        " columns, the custom model's `image` as one float"
        ' `FixedLenFeature`). In the modern environment both SavedModels'
        ' were loaded side by side and given the test set as serialized'
        " tf.Examples (the rows the input_fn yields; a row with `''`,"
        " the data's missing value, also with that feature left out):"
        " every signature of the estimator's was called on both, and"
        " TensorFlow Serving's Classify, Regress and Predict requests"
        ' (`tensorflow-serving-api`) were answered by both through a'
        ' handler mapping them to signatures as Serving does. The cell'
        ' gives the largest float difference over every output and answer'
        ' (strings and integers must be identical) and whether the'
        ' SignatureDefs (keys, methods, inputs and outputs with dtypes and'
        ' shapes) and `saved_model_cli show --all` listings are identical.',
        '',
    ]
    for k in served:
      lines += [
          f'{k.name}, served ({k.served_examples} tf.Examples):',
          '',
          k.serving.table(),
          '',
      ]
    return lines

  def migration_table(self) -> str:
    """TF1 continued vs migrated continued, per model."""
    rows = []
    for m in self.models:
      rows.append(
          (
              m.name,
              f'{m.tf1["accuracy"]:.4f}',
              f'{m.migrated["accuracy"]:.4f}',
              f'{m.tf1["loss"]:.4f}',
              f'{m.migrated["loss"]:.4f}',
              f'{m.restored_difference:.2g}',
              str(m.migration),
              str(m.noise),
              str(m.tolerance.limit(m.noise)),
              'ok' if not m.problems() else 'DIVERGED',
          )
      )
    return report.markdown_table(
        (
            'model',
            'TF1 accuracy',
            'migrated accuracy',
            'TF1 loss',
            'migrated loss',
            'restored diff',
            'migration gap (acc / loss / weight)',
            'noise floor (acc / loss / weight)',
            'limit',
            'verdict',
        ),
        rows,
    )

  def speeds(self) -> str:
    """Training speed after the migration (varies from run to run)."""
    return report.markdown_table(
        ('model', 'TF1 steps/s', 'migrated steps/s'),
        [
            (
                m.name,
                f'{m.tf1_steps_per_second:.1f}',
                f'{m.migrated_steps_per_second:.1f}',
            )
            for m in self.models
        ],
    )

  def markdown(self) -> str:
    problems = self.problems()
    determinism = (
        f'on (tf.config.experimental.enable_op_determinism, seed {self.seed})'
        if self.deterministic
        else 'off'
    )
    lines = [
        '# estimator_migrate demo',
        '',
        f'Each model trained {self.steps} steps as TF1 code, was migrated, and'
        f' then the TF1 original (twice, from the same checkpoint) and the'
        f' migrated model trained {self.steps} more steps on the same'
        f' batches. Op determinism: {determinism}.',
        '',
        self.migration_table(),
        '',
        '"restored diff": max |p_TF1 - p_migrated| over the test set right'
        ' after migration, before any further training. "migration gap":'
        ' TF1 continued vs migrated continued: accuracy difference, loss'
        ' difference relative to TF1\'s, max weight difference. "noise'
        ' floor": the same three between the TF1 continuation and the TF1'
        ' continuation done again from the same checkpoint. "limit": per'
        f' measure, max({TOLERANCE.noise_factor:g} x noise floor, absolute'
        ' floor); a model whose migration gap exceeds it diverged.',
        '',
        '## Off Estimators, on TensorFlow 2.21 and Keras 3',
        '',
        f'At step {self.steps} the migrated canned model was exported with'
        ' `export.canned_to_keras`'
        f' (`{os.path.relpath(self.keras3[0].directory, self.workdir)}/`),'
        ' and the TF1 custom model_fn with `export.model_fn_to_keras`, which'
        ' reads the graph the model_fn builds and generates its Keras 3'
        ' model (no hand-written twin;'
        f' `{os.path.relpath(self.keras3[1].directory, self.workdir)}/`);'
        ' both with their serving SavedModel. In the modern environment'
        ' (TensorFlow 2.21, Keras 3) each `load()` and SavedModel predicted'
        ' the test set, and `load(compile=True)` `fit` the batches the'
        f' estimator continued on ({self.steps} steps, `shuffle=False`; the'
        ' custom model with dropout off on both sides, since each side draws'
        ' its own masks):',
        '',
        self.keras3_table(),
        '',
        *(
            line
            for k in self.keras3
            for line in (f'{k.name}:', '', k.parity.table(), '')
        ),
        '"weights after training on": max |w_estimator - w_Keras3| over'
        ' every model weight once both trained on; the Keras 3 training loss'
        ' is in the canned panel of the loss curves.',
        '',
        *self.serving_lines(),
        '## Speed (varies from run to run)',
        '',
        self.speeds(),
        '',
        '## Canned model: argument changes',
        '',
        self.changes_table,
        '',
        '## Canned model: checkpoint conversion',
        '',
        f'{self.conversion.tensors} tensors,'
        f' {self.conversion.bytes / 1e6:.1f} MB in'
        f' {self.conversion.seconds:.2f} s, verified:'
        f' {self.conversion.verified}.',
        '',
        '```',
        self.conversion.summary(),
        '```',
        '',
        '## Notes',
        '',
    ]
    lines += [f'- {note}' for m in self.models for note in m.notes]
    lines += [
        '',
        f'![training loss]({os.path.basename(self.plot_path)})',
        '',
        'TensorBoard: `tensorboard --logdir '
        f"{self.workdir}` shows every run's event files.",
        '',
        '## Verdict',
        '',
        'ok: every migrated model is within tolerance.'
        if not problems
        else '\n'.join(f'- {p}' for p in problems),
    ]
    return '\n'.join(lines) + '\n'
