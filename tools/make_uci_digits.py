r"""Regenerates the embedded UCI digits file from scikit-learn's copy.

Run once by a maintainer; scikit-learn is needed by this script only, never at
run time. The output is the 8x8 scans as they were published (values 0..16),
so the conversion to MNIST's 28x28 layout stays in `estimator_migrate/guide/data.py`
where it can be read and tested.

Example:
  pip install scikit-learn
  python tools/make_uci_digits.py \
      --output=estimator_migrate/guide/datasets/uci_digits.npz
"""

from collections.abc import Sequence

from absl import app
from absl import flags
import numpy as np

_OUTPUT = flags.DEFINE_string(
    'output',
    'estimator_migrate/guide/datasets/uci_digits.npz',
    'Where to write the compressed arrays.',
)


def main(argv: Sequence[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  from sklearn import datasets  # pylint: disable=g-import-not-at-top

  digits = datasets.load_digits()
  images = digits.images.astype(np.uint8)  # 1797 x 8 x 8, values 0..16
  labels = digits.target.astype(np.uint8)
  with open(_OUTPUT.value, 'wb') as f:
    np.savez_compressed(f, images=images, labels=labels)
  print(f'wrote {len(labels)} scans to {_OUTPUT.value}')


if __name__ == '__main__':
  app.run(main)
