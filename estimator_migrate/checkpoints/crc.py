"""CRC-32C as TF's tensor bundles store it (masked), for checking reads.

A bundle's index keeps, per tensor or stored slice, the masked CRC-32C of
its bytes in the data file (`BundleEntryProto.crc32c`); TF's own reader
checks it on every restore. Masking (tsl/lib/hash/crc32c.h) rotates the CRC
right by 15 bits and adds a constant.
"""

import google_crc32c
import numpy as np

_MASK_DELTA = 0xA282EAD8
_U32 = 0xFFFFFFFF


def value(data) -> int:
  """The (unmasked) CRC-32C of a bytes-like object."""
  return extend(0, data)


def extend(crc: int, data) -> int:
  """The CRC-32C `crc` continued over `data`, read in place (no copy).

  `value(a + b) == extend(value(a), b)`.
  """
  # The C extension takes numpy arrays and bytes in place, not memoryviews.
  array = (
      np.frombuffer(data, np.uint8)
      if not isinstance(data, np.ndarray)
      else data
  )
  return google_crc32c.extend(crc, np.ascontiguousarray(array))


def mask(crc: int) -> int:
  return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & _U32


def unmask(masked: int) -> int:
  rotated = (masked - _MASK_DELTA) & _U32
  return ((rotated >> 17) | (rotated << 15)) & _U32
