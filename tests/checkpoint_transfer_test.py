"""transfer_file: each means, each fallback, and an untouched source."""

import builtins
import errno
import hashlib
import os
from unittest import mock

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from estimator_migrate import errors
from estimator_migrate.checkpoints import transfer

_SIZE = 300_001  # not a multiple of any chunk size used here
_CHUNK = 4096  # many kernel-copy calls and streamed reads per file


def _refuse(code: int):
  def refused(*args, **kwargs):
    raise OSError(code, os.strerror(code))

  return refused


class _OpenSpy:
  """Records how every os.open and open() opens files, then opens them."""

  def __init__(self):
    self.writes = []  # paths opened for writing
    self._os_open = os.open
    self._open = builtins.open

  def os_open(self, path, flags, *args, **kwargs):
    if flags & (os.O_WRONLY | os.O_RDWR):
      self.writes.append(os.path.realpath(path))
    return self._os_open(path, flags, *args, **kwargs)

  def open(self, path, mode='r', *args, **kwargs):
    if set(mode) & set('wax+'):
      self.writes.append(os.path.realpath(path))
    return self._open(path, mode, *args, **kwargs)


class TransferTest(tf.test.TestCase, parameterized.TestCase):

  def setUp(self):
    super().setUp()
    self.dir = self.create_tempdir().full_path
    self.source = os.path.join(self.dir, 'ckpt.data-00000-of-00001')
    self.data = np.random.default_rng(0).bytes(_SIZE)
    with open(self.source, 'wb') as f:
      f.write(self.data)
    os.utime(self.source, ns=(1_000_000_000, 2_000_000_000))
    self.target = os.path.join(self.dir, 'new.data-00000-of-00002')
    self.before = self._state(self.source)

  def _state(self, path):
    stat = os.stat(path)
    with open(path, 'rb') as f:
      digest = hashlib.sha256(f.read()).hexdigest()
    return digest, stat.st_size, stat.st_mtime_ns, stat.st_mode

  def _transfer(self, **kwargs):
    spy = _OpenSpy()
    with (
        mock.patch.object(os, 'open', spy.os_open),
        mock.patch.object(builtins, 'open', spy.open),
    ):
      report = transfer.transfer_file(
          self.source, self.target, chunk_bytes=_CHUNK, **kwargs
      )
    self.assertNotIn(os.path.realpath(self.source), spy.writes)
    if report.method != 'link':
      self.assertNotEmpty(spy.writes)  # the spy sees this module's opens
    return report

  def _assert_copied(self, report, method, refused=()):
    self.assertEqual(report.method, method)
    self.assertEqual(report.size, _SIZE)
    self.assertLen(report.refused, len(refused))
    for reason, want in zip(report.refused, refused, strict=True):
      self.assertRegex(reason, want)
    with open(self.target, 'rb') as f:
      self.assertEqual(f.read(), self.data)
    self.assertEqual(self._state(self.source), self.before)
    self.assertEqual(  # no temporary left beside the target
        sorted(os.listdir(self.dir)),
        sorted([os.path.basename(self.source), os.path.basename(self.target)]),
    )

  def test_link_when_asked(self):
    report = self._transfer(link=True)

    self._assert_copied(report, 'link')
    self.assertTrue(os.path.samefile(self.source, self.target))

  def test_kernel_copy_by_default(self):
    report = self._transfer()

    self._assert_copied(report, 'kernel copy')
    self.assertFalse(os.path.samefile(self.source, self.target))

  @parameterized.named_parameters(
      ('cross_device', errno.EXDEV),
      ('no_hard_links', errno.EPERM),
      ('too_many_links', errno.EMLINK),
  )
  def test_link_refused_falls_back_to_kernel_copy(self, code):
    with mock.patch.object(os, 'link', _refuse(code)):
      report = self._transfer(link=True)

    self._assert_copied(report, 'kernel copy', [f'link: .*{os.strerror(code)}'])

  @parameterized.named_parameters(
      ('cross_device', errno.EXDEV),
      ('no_syscall', errno.ENOSYS),
      ('unsupported', errno.EOPNOTSUPP),
      ('invalid', errno.EINVAL),
  )
  def test_kernel_copy_refused_falls_back_to_stream(self, code):
    with mock.patch.object(os, 'copy_file_range', _refuse(code)):
      report = self._transfer()

    self._assert_copied(
        report, 'stream', [f'kernel copy: .*{os.strerror(code)}']
    )

  def test_link_and_kernel_copy_refused(self):
    with (
        mock.patch.object(os, 'link', _refuse(errno.EXDEV)),
        mock.patch.object(os, 'copy_file_range', _refuse(errno.EXDEV)),
    ):
      report = self._transfer(link=True)

    self._assert_copied(report, 'stream', ['link: ', 'kernel copy: '])

  def test_kernel_copy_refused_midway_restarts_as_stream(self):
    real, calls = os.copy_file_range, []

    def fails_third_time(src, dst, count, *args):
      calls.append(count)
      if len(calls) == 3:
        raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))
      return real(src, dst, count, *args)

    with mock.patch.object(os, 'copy_file_range', fails_third_time):
      report = self._transfer()

    self._assert_copied(report, 'stream', ['kernel copy: '])

  def test_kernel_copy_copying_nothing_falls_back(self):
    with mock.patch.object(os, 'copy_file_range', lambda *a: 0):
      report = self._transfer()

    self._assert_copied(report, 'stream', [r'copied 0 of 300001 bytes'])

  def test_no_copy_file_range_in_this_python(self):
    self.addCleanup(setattr, os, 'copy_file_range', os.copy_file_range)
    del os.copy_file_range

    report = self._transfer()

    self._assert_copied(report, 'stream', ['not available'])

  def test_kernel_copy_error_is_raised_and_leaves_nothing(self):
    with mock.patch.object(os, 'copy_file_range', _refuse(errno.ENOSPC)):
      with self.assertRaisesRegex(
          errors.CheckpointError, r'target: cannot bring .*No space left'
      ):
        self._transfer()

    self.assertEqual(os.listdir(self.dir), [os.path.basename(self.source)])
    self.assertEqual(self._state(self.source), self.before)

  @parameterized.named_parameters(
      ('ram_to_local', 'ram://transfer/a', None),
      ('local_to_ram', None, 'ram://transfer/b'),
      ('ram_to_ram', 'ram://transfer/c', 'ram://transfer/d'),
  )
  def test_other_filesystems_stream_through_gfile(self, source, target):
    if source:
      with tf.io.gfile.GFile(source, 'wb') as f:
        f.write(self.data)
    source = source or self.source
    target = target or self.target

    report = transfer.transfer_file(
        source, target, link=True, chunk_bytes=_CHUNK
    )

    self.assertEqual(report.method, 'stream')
    self.assertEqual(report.refused, ('link: only between local files',))
    with tf.io.gfile.GFile(target, 'rb') as f:
      self.assertEqual(f.read(), self.data)
    with tf.io.gfile.GFile(source, 'rb') as f:
      self.assertEqual(f.read(), self.data)

  def test_refuses_existing_target(self):
    with open(self.target, 'wb') as f:
      f.write(b'old')

    with self.assertRaisesRegex(errors.CheckpointError, r'target: .* exists'):
      transfer.transfer_file(self.source, self.target, link=True)

    with open(self.target, 'rb') as f:
      self.assertEqual(f.read(), b'old')

  @parameterized.named_parameters(('link', True), ('copy', False))
  def test_missing_target_directory(self, link):
    target = os.path.join(self.dir, 'absent', 'x.data-00000-of-00001')

    with self.assertRaisesRegex(errors.CheckpointError, r'target: .*absent'):
      transfer.transfer_file(self.source, target, link=link)

    self.assertEqual(self._state(self.source), self.before)

  def test_missing_source(self):
    with self.assertRaisesRegex(
        errors.CheckpointError, r'source: .*not a file'
    ):
      transfer.transfer_file(self.source + '.missing', self.target)


if __name__ == '__main__':
  absltest.main()
