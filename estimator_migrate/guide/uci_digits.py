"""The embedded default data set: UCI handwritten digits in MNIST's layout.

1,797 real 8x8 scans (UCI ML "Optical Recognition of Handwritten Digits",
E. Alpaydin and C. Kaynak, CC BY 4.0; the copy scikit-learn ships), stored in
`datasets/uci_digits.npz` by `tools/make_uci_digits.py`. The builder turns each
scan into an MNIST-shaped example: every pixel becomes a 3x3 block (24x24), a
2-pixel border makes it 28x28x1, and the 0..16 counts are scaled to 0..255.

Importing this module registers the TFDS builder, so
`tfds.load('uci_digits')` works offline exactly as `tfds.load('mnist')` does.
"""

import os

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

NAME = 'uci_digits'
NUM_CLASSES = 10
IMAGE_SHAPE = (28, 28, 1)
# The first TRAIN_SIZE scans are the train split, the rest the test split.
TRAIN_SIZE = 1437
SOURCE_PATH = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), 'datasets', 'uci_digits.npz'
)
_UPSCALE = 3
_BORDER = 2
_MAX_COUNT = 16  # each 8x8 pixel counts the set pixels of a 4x4 block


def read_scans(path: str = SOURCE_PATH) -> tuple[np.ndarray, np.ndarray]:
  """Reads the stored 8x8 scans and their labels.

  Args:
    path: The `.npz` file written by `tools/make_uci_digits.py`.

  Returns:
    `(images, labels)`: uint8 arrays of shape `[n, 8, 8]` (values 0..16) and
    `[n]`.
  """
  with tf.io.gfile.GFile(path, 'rb') as f:
    arrays = np.load(f)
    return arrays['images'], arrays['labels']


def to_mnist_layout(scan: np.ndarray) -> np.ndarray:
  """Converts one 8x8 scan (0..16) to a 28x28x1 uint8 image (0..255)."""
  pixels = scan.astype(np.uint16) * 255 // _MAX_COUNT
  big = np.kron(pixels, np.ones((_UPSCALE, _UPSCALE), np.uint16))
  return np.pad(big, _BORDER).astype(np.uint8)[..., np.newaxis]


class UciDigits(tfds.core.GeneratorBasedBuilder):
  """UCI handwritten digits, upsampled to MNIST's 28x28x1 layout."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'First release.'}

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(
        builder=self,
        description=__doc__,
        features=tfds.features.FeaturesDict(
            {
                'image': tfds.features.Image(shape=IMAGE_SHAPE),
                'label': tfds.features.ClassLabel(num_classes=NUM_CLASSES),
            }
        ),
        supervised_keys=('image', 'label'),
        homepage='https://archive.ics.uci.edu/dataset/80',
        citation=(
            'Alpaydin, E. and Kaynak, C. (1998). Optical Recognition of'
            ' Handwritten Digits. UCI Machine Learning Repository.'
        ),
    )

  def _split_generators(self, dl_manager):
    del dl_manager  # the data ships with the package
    return {
        'train': self._generate_examples(0, TRAIN_SIZE),
        'test': self._generate_examples(TRAIN_SIZE, None),
    }

  def _generate_examples(self, start: int, stop: int | None):
    images, labels = read_scans()
    for index in range(start, stop if stop is not None else len(labels)):
      yield index, {
          'image': to_mnist_layout(images[index]),
          'label': int(labels[index]),
      }
