"""The embedded tabular data set: the Palmer penguins, as a TFDS builder.

344 penguins (Adelie, Chinstrap, Gentoo) measured on three islands of the
Palmer Archipelago, 2007-2009 (K. Gorman and Palmer Station LTER, CC0; the
table of the `palmerpenguins` package, MIT, read from its installed CSV, so
nothing is downloaded and nothing is copied into this repository). TFDS's own
`penguins` builder downloads its CSV at run time; this one is named
`palmer_penguins` so that both can coexist.

Features, as TFDS users expect them:
- `island`, `sex`: strings; `''` where the table says NA (11 rows lack sex).
- `bill_length_mm`, `bill_depth_mm`, `flipper_length_mm`, `body_mass_g`:
  float32; NaN where the table says NA (2 rows lack every measurement), as
  TFDS's `penguins/simple` does. Models impute them (the demo's input_fn
  puts the train mean there).
- `year`: int32.
- `species`: the label, `ClassLabel` of `SPECIES`.

Splits: a fixed permutation (`numpy.random.RandomState(SPLIT_SEED)`) of the
344 rows; its first `TRAIN_SIZE` are `train`, the other 69 `test`.

Importing this module registers the builder: `tfds.load('palmer_penguins')`
works offline.
"""

import csv
import importlib.resources

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

NAME = 'palmer_penguins'
SPECIES = ('Adelie', 'Chinstrap', 'Gentoo')
STRINGS = ('island', 'sex')
MEASUREMENTS = (
    'bill_length_mm',
    'bill_depth_mm',
    'flipper_length_mm',
    'body_mass_g',
)
NUM_ROWS = 344
TRAIN_SIZE = 275  # 80 %
SPLIT_SEED = 0
MISSING = ''  # what `island` and `sex` hold where the table says NA
_NA = 'NA'
_PACKAGE = 'palmerpenguins'
_CSV = ('data', 'penguins.csv')


def read_rows() -> list[dict[str, str]]:
  """The table's rows as the CSV holds them (strings, 'NA' for missing).

  Returns:
    344 dicts keyed by the CSV's header: species, island, bill_length_mm,
    bill_depth_mm, flipper_length_mm, body_mass_g, sex, year.
  """
  path = importlib.resources.files(_PACKAGE).joinpath(*_CSV)
  with path.open(encoding='utf-8', newline='') as f:
    return list(csv.DictReader(f))


def to_example(row: dict[str, str]) -> dict[str, object]:
  """One CSV row as a TFDS example (NA: '' for strings, NaN for numbers)."""
  example = {
      name: MISSING if row[name] == _NA else row[name] for name in STRINGS
  }
  for name in MEASUREMENTS:
    example[name] = np.float32('nan' if row[name] == _NA else row[name])
  example['year'] = int(row['year'])
  example['species'] = row['species']
  return example


def split_indices() -> dict[str, np.ndarray]:
  """Row indices of each split: a fixed seeded permutation, cut at 80 %."""
  order = np.random.RandomState(SPLIT_SEED).permutation(NUM_ROWS)
  return {
      'train': np.sort(order[:TRAIN_SIZE]),
      'test': np.sort(order[TRAIN_SIZE:]),
  }


class PalmerPenguins(tfds.core.GeneratorBasedBuilder):
  """The Palmer penguins, read from the installed `palmerpenguins` package."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'First release.'}

  def _info(self) -> tfds.core.DatasetInfo:
    features = {name: tfds.features.Text() for name in STRINGS}
    features.update({name: tf.float32 for name in MEASUREMENTS})
    features['year'] = tf.int32
    features['species'] = tfds.features.ClassLabel(names=SPECIES)
    inputs = [name for name in features if name != 'species']
    return tfds.core.DatasetInfo(
        builder=self,
        description=__doc__,
        features=tfds.features.FeaturesDict(features),
        supervised_keys=({name: name for name in inputs}, 'species'),
        homepage='https://allisonhorst.github.io/palmerpenguins/',
        citation=(
            'Horst, A. M., Hill, A. P. and Gorman, K. B. (2020).'
            ' palmerpenguins: Palmer Archipelago (Antarctica) penguin data.'
            ' doi:10.5281/zenodo.3960218'
        ),
    )

  def _split_generators(self, dl_manager):
    del dl_manager  # the data comes with the installed package
    rows = read_rows()
    if len(rows) != NUM_ROWS:
      raise ValueError(
          f'{_PACKAGE} holds {len(rows)} rows, expected {NUM_ROWS}: install'
          ' the version requirements.lock pins.'
      )
    return {
        split: self._generate_examples(rows, indices)
        for split, indices in split_indices().items()
    }

  def _generate_examples(self, rows, indices):
    for index in indices:
      yield int(index), to_example(rows[index])
