"""estimator-migrate-rewrite on awkward files and faults, as its user runs it.

Each case runs the real binary and asserts the exit code, one
`<binary>: error:` line per file it could not rewrite (naming the file and
what to do, no traceback), that file byte-identical (sha256), every other
file rewritten, and no temporary file left behind.

The tests run as root, whom the kernel lets write any file: the rewriter
judges read-only files and directories by their mode (no owner write bit),
and one case uses a real read-only bind mount (`unshare -Urm`) where the
write itself fails.
"""

import hashlib
import os
import stat
from unittest import mock

from absl.testing import absltest
from absl.testing import parameterized
import tensorflow as tf

from estimator_migrate.rewrite import files
from estimator_migrate.rewrite import transformer
from tests import testing

_BINARY = 'estimator_migrate/cli/rewrite.py'
_CORPUS = os.path.join(os.path.dirname(__file__), 'rewrite_corpus')
_ERROR = 'rewrite.py: error: '


def _corpus(variant: str, name: str) -> str:
  with open(os.path.join(_CORPUS, variant, name), encoding='utf-8') as f:
    return f.read()


_BEFORE = _corpus('before', 'baseline.py')
_AFTER = _corpus('after', 'baseline.py')
_UNCHANGED = 'import os\n\nprint(os.sep)\n'  # Python with nothing to rewrite


def _sha(path: str) -> str:
  with open(path, 'rb') as f:
    return hashlib.sha256(f.read()).hexdigest()


def _read(path: str) -> str:
  with open(path, encoding='utf-8') as f:
    return f.read()


def _write(path: str, data: str | bytes) -> str:
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, 'wb') as f:
    f.write(data.encode('utf-8') if isinstance(data, str) else data)
  return path


def _leftovers(root: str) -> list[str]:
  return [
      os.path.join(d, n)
      for d, _, names in os.walk(root)
      for n in names
      if n.endswith('.tmp')
  ]


class RewriteFaultsTest(parameterized.TestCase):

  def setUp(self):
    super().setUp()
    self.root = self.create_tempdir().full_path
    self.tree = os.path.join(self.root, 'project')
    # A file that is always rewritten: the rest of the tree goes on.
    self.good = _write(os.path.join(self.tree, 'a_good.py'), _BEFORE)

  def run_rewrite(self, *args: str, wrapper=()):
    result = testing.run_binary(_BINARY, *args, wrapper=wrapper, timeout=300)
    self.assertNotIn('Traceback', result.stderr)
    return result

  def assert_failed_once(self, result, path: str, *words: str) -> str:
    """Exit 2, and exactly one error line, naming `path` and `words`."""
    self.assertEqual(result.returncode, 2, result.stderr[-3000:])
    errors = [s for s in result.stderr.splitlines() if s.startswith(_ERROR)]
    self.assertLen(errors, 1, result.stderr[-3000:])
    self.assertIn(path, errors[0])
    for word in words:
      self.assertIn(word, errors[0])
    return errors[0]

  def assert_good_rewritten(self):
    self.assertEqual(_read(self.good), _AFTER)

  # Item 11: encodings and files that are not Python source.

  @parameterized.named_parameters(
      ('latin_1', 'latin-1', '# -*- coding: latin-1 -*-\n'),
      ('cp1252', 'cp1252', '# vim: set fileencoding=cp1252 :\n'),
      ('utf_8_bom', 'utf-8-sig', ''),
  )
  def test_declared_encoding_is_read_and_written_back(self, encoding, cookie):
    header = f'{cookie}"""Modèle de référence: « baseline », 3 €? non."""\n'
    if encoding == 'latin-1':
      header = header.replace('€', 'E')  # not in latin-1
    footer = '# Fin du modèle (données à 100 %).\n'
    before = header + _BEFORE.split('\n', 1)[1] + footer
    after = header + _AFTER.split('\n', 1)[1] + footer
    path = _write(
        os.path.join(self.tree, 'pkg', 'encoded.py'), before.encode(encoding)
    )
    if encoding != 'utf-8-sig':  # the bytes are not UTF-8
      with self.assertRaises(UnicodeDecodeError):
        before.encode(encoding).decode('utf-8')
    result = self.run_rewrite(self.tree, '--in_place', '--diff')
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    self.assertIn('2 file(s) read, 2 changed', result.stdout)
    with open(path, 'rb') as f:
      written = f.read()
    # Byte for byte: the untouched lines keep their encoded form.
    self.assertEqual(written, after.encode(encoding))
    self.assertIn(header.encode(encoding), written)
    plain = 'utf-8' if encoding == 'utf-8-sig' else encoding  # no BOM
    self.assertTrue(written.endswith(footer.encode(plain)))
    self.assert_good_rewritten()
    self.assertEqual(_leftovers(self.root), [])

  @parameterized.named_parameters(
      ('nul_bytes', b'\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR', 'NUL byte'),
      ('not_utf_8', b'x = "\xff\xfe caf\xe9"\n', 'not valid utf-8'),
      ('unknown_coding', b'# coding: klingon\nx = 1\n', 'coding line'),
      ('not_python', b'def f(:\n  pass\n', 'not valid Python'),
  )
  def test_file_that_is_not_python_source_fails_alone(self, data, words):
    bad = _write(os.path.join(self.tree, 'pkg', 'broken.py'), data)
    later = _write(os.path.join(self.tree, 'z_later.py'), _BEFORE)
    report = os.path.join(self.root, 'report.md')
    for in_place in ((), ('--in_place',)):
      result = self.run_rewrite(self.tree, *in_place, f'--report={report}')
      self.assert_failed_once(result, bad, words, 'leave it out')
      self.assertIn('1 file(s) NOT rewritten', result.stdout)
      self.assertIn(bad, _read(report))
      with open(bad, 'rb') as f:
        self.assertEqual(f.read(), data)
    # Files before and after it in the walk are rewritten.
    self.assert_good_rewritten()
    self.assertEqual(_read(later), _AFTER)
    self.assertEqual(_leftovers(self.root), [])

  def test_read_only_directory_by_mode(self):
    locked = os.path.join(self.tree, 'locked')
    inside = _write(os.path.join(locked, 'model.py'), _BEFORE)
    digest = _sha(inside)
    os.chmod(locked, 0o555)
    self.addCleanup(os.chmod, locked, 0o755)
    result = self.run_rewrite(self.tree, '--in_place')
    self.assert_failed_once(result, inside, 'read-only (mode 0555; chmod u+w)')
    self.assertEqual(_sha(inside), digest)
    self.assertEqual(os.listdir(locked), ['model.py'])
    self.assert_good_rewritten()

  def test_read_only_filesystem(self):
    # A read-only bind mount: the mode says writable, the write fails.
    locked = os.path.join(self.tree, 'mounted')
    inside = _write(os.path.join(locked, 'model.py'), _BEFORE)
    digest = _sha(inside)
    remount = (
        'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" || exit 99;'
        ' exec "$@"'
    )
    result = self.run_rewrite(
        self.tree,
        '--in_place',
        wrapper=('unshare', '-Urm', 'sh', '-c', remount, locked),
    )
    self.assert_failed_once(result, inside, 'on a read-only filesystem')
    self.assertEqual(_sha(inside), digest)
    self.assertEqual(os.listdir(locked), ['model.py'])
    self.assert_good_rewritten()

  def test_full_disk_leaves_the_file_whole(self):
    # The tree on a tmpfs filled to the last page: the temporary file is
    # created, its write fails, and it is removed.
    model = _write(os.path.join(self.tree, 'model.py'), _BEFORE)
    mount = os.path.join(self.root, 'small')
    os.mkdir(mount)
    script = (
        'mount -t tmpfs -o size=64k tmpfs "$0" || exit 99;'
        ' cp "$1" "$0/model.py"; cat /dev/zero > "$0/fill" 2>/dev/null;'
        ' shift; "$@"; code=$?; cd "$0"; echo LEFT: $(ls -A);'
        ' sha256sum model.py; exit $code'
    )
    result = self.run_rewrite(
        os.path.join(mount, 'model.py'),
        '--in_place',
        wrapper=('unshare', '-Urm', 'sh', '-c', script, mount, model),
    )
    self.assert_failed_once(result, 'small/model.py', 'No space left on device')
    self.assertIn('LEFT: fill model.py\n', result.stdout)
    self.assertIn(f'{_sha(model)}  model.py', result.stdout)

  @parameterized.named_parameters(
      ('read_only_directory', 'locked', 'read-only'),
      ('is_a_directory', 'dir', 'is a directory'),
      ('missing_directory', 'missing', 'does not exist'),
  )
  def test_report_that_cannot_be_written_touches_nothing(self, where, words):
    place = os.path.join(self.root, 'out')
    os.mkdir(place)
    report = {
        'locked': os.path.join(place, 'r.md'),
        'dir': place,
        'missing': os.path.join(place, 'no', 'r.md'),
    }[where]
    if where == 'locked':
      os.chmod(place, 0o555)
      self.addCleanup(os.chmod, place, 0o755)
    digest = _sha(self.good)
    result = self.run_rewrite(self.tree, '--in_place', f'--report={report}')
    self.assertEqual(result.returncode, 2, result.stderr[-3000:])
    errors = [s for s in result.stderr.splitlines() if _ERROR in s]
    self.assertLen(errors, 1, result.stderr)
    self.assertIn('--report=', errors[0])
    self.assertIn(words, errors[0])
    self.assertEqual(_sha(self.good), digest)
    self.assertEqual(os.listdir(place), [])

  # Item 14: in place keeps each file as the user had it.

  def test_mode_and_owner_are_kept(self):
    executable = _write(os.path.join(self.tree, 'run.py'), _BEFORE)
    os.chmod(executable, 0o750)
    owner = (1234, 5678) if os.geteuid() == 0 else (os.getuid(), os.getgid())
    os.chown(self.good, *owner)
    os.chmod(self.good, 0o604)
    result = self.run_rewrite(self.tree, '--in_place')
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    self.assertEqual(_read(executable), _AFTER)
    self.assertEqual(stat.S_IMODE(os.stat(executable).st_mode), 0o750)
    self.assert_good_rewritten()
    st = os.stat(self.good)
    self.assertEqual((st.st_uid, st.st_gid), owner)
    self.assertEqual(stat.S_IMODE(st.st_mode), 0o604)

  def test_read_only_file_is_refused(self):
    frozen = _write(os.path.join(self.tree, 'frozen.py'), _BEFORE)
    os.chmod(frozen, 0o444)
    digest = _sha(frozen)
    result = self.run_rewrite(self.tree, '--in_place')
    self.assert_failed_once(result, frozen, 'read-only (mode 0444; chmod u+w)')
    self.assertEqual(_sha(frozen), digest)
    self.assertEqual(stat.S_IMODE(os.stat(frozen).st_mode), 0o444)
    self.assert_good_rewritten()

  def test_symlink_is_written_through(self):
    outside = _write(os.path.join(self.root, 'shared', 'real.py'), _BEFORE)
    os.chmod(outside, 0o640)
    link = os.path.join(self.tree, 'linked.py')
    os.symlink('../shared/real.py', link)
    result = self.run_rewrite(self.tree, '--in_place')
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    self.assertTrue(os.path.islink(link))
    self.assertEqual(os.readlink(link), '../shared/real.py')
    self.assertEqual(_read(outside), _AFTER)
    self.assertEqual(stat.S_IMODE(os.stat(outside).st_mode), 0o640)
    self.assert_good_rewritten()
    self.assertEqual(_leftovers(self.root), [])

  def test_hard_linked_file_is_refused_and_stays_linked(self):
    linked = _write(os.path.join(self.tree, 'linked.py'), _BEFORE)
    other = os.path.join(self.root, 'backup.py')
    os.link(linked, other)
    digest, inode = _sha(linked), os.stat(linked).st_ino
    result = self.run_rewrite(self.tree, '--in_place')
    self.assert_failed_once(result, linked, '2 hard links')
    st = os.stat(linked)
    self.assertEqual((st.st_ino, st.st_nlink), (inode, 2))
    self.assertEqual(_sha(linked), digest)
    self.assertEqual(_sha(other), digest)
    self.assert_good_rewritten()

  # Item 15: each real file once.

  def test_symlink_loop_is_walked_once(self):
    _write(os.path.join(self.tree, 'pkg', 'model.py'), _UNCHANGED)
    os.symlink('..', os.path.join(self.tree, 'pkg', 'up'))
    os.symlink('.', os.path.join(self.tree, 'pkg', 'here'))
    report = os.path.join(self.root, 'report.md')
    result = self.run_rewrite(
        self.tree, '--in_place', '--diff', f'--report={report}'
    )
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    self.assertIn('2 file(s) read, 1 changed', result.stdout)
    self.assertEqual(result.stdout.count('+++ b/'), 1)
    for looped in ('/up/', '/here/'):
      self.assertNotIn(looped, _read(report))
    self.assert_good_rewritten()

  def test_links_to_one_file_read_once(self):
    for name in ('b.py', 'c.py'):
      os.symlink('a_good.py', os.path.join(self.tree, name))
    os.symlink(self.tree, os.path.join(self.tree, 'again'))
    # Named twice more on the command line, once through a link.
    result = self.run_rewrite(
        self.tree,
        self.good,
        os.path.join(self.tree, 'again'),
        '--in_place',
        '--diff',
    )
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    self.assertIn('1 file(s) read, 1 changed', result.stdout)
    self.assertEqual(result.stdout.count('+++ b/'), 1)
    self.assertTrue(os.path.islink(os.path.join(self.tree, 'b.py')))
    self.assert_good_rewritten()

  def test_broken_and_looping_links_fail_alone(self):
    broken = os.path.join(self.tree, 'gone.py')
    os.symlink('nowhere.py', broken)
    looping = os.path.join(self.tree, 'self.py')
    os.symlink('self.py', looping)
    result = self.run_rewrite(self.tree, '--in_place')
    self.assertEqual(result.returncode, 2, result.stderr[-3000:])
    errors = [s for s in result.stderr.splitlines() if s.startswith(_ERROR)]
    self.assertLen(errors, 2, result.stderr)
    self.assertIn(broken, errors[0])
    self.assertIn(looping, errors[1])
    self.assertTrue(os.path.islink(broken) and os.path.islink(looping))
    self.assert_good_rewritten()


class LibraryTest(absltest.TestCase):
  """What cannot be staged from outside the binary, through the library."""

  def test_file_changed_while_rewritten_is_left_as_it_is_now(self):
    path = self.create_tempfile('model.py', _BEFORE).full_path
    rewrite_source = transformer.rewrite_source

    def editing_meanwhile(source, name, options):
      with open(path, 'a', encoding='utf-8') as f:
        f.write('# saved by an editor meanwhile\n')
      return rewrite_source(source, name, options)

    with mock.patch.object(transformer, 'rewrite_source', editing_meanwhile):
      result = files.rewrite_paths([path], in_place=True)
    self.assertLen(result.failures, 1)
    self.assertIn(
        'changed while it was being rewritten', result.failures[0].message
    )
    self.assertEqual(_read(path), _BEFORE + '# saved by an editor meanwhile\n')
    self.assertEqual(os.listdir(os.path.dirname(path)), ['model.py'])

  def test_gfile_paths_keep_the_encoding_and_fail_alone(self):
    # Paths with a scheme (gs://) go through tf.io.gfile; ram:// stands in.
    root = f'ram://{self.id()}'
    tf.io.gfile.makedirs(f'{root}/pkg')
    header = '# coding: latin-1\n# Modèle\n'.encode('latin-1')
    with tf.io.gfile.GFile(f'{root}/pkg/model.py', 'wb') as f:
      f.write(header + _BEFORE.encode('latin-1'))
    with tf.io.gfile.GFile(f'{root}/binary.py', 'wb') as f:
      f.write(b'\0\1')
    result = files.rewrite_paths([root], in_place=True)
    self.assertEqual([f.path for f in result.files], [f'{root}/pkg/model.py'])
    self.assertEqual([f.path for f in result.failures], [f'{root}/binary.py'])
    with tf.io.gfile.GFile(f'{root}/pkg/model.py', 'rb') as f:
      self.assertEqual(f.read(), header + _AFTER.encode('latin-1'))
    files.write_file(f'{root}/r.md', result.markdown(), 'report')
    self.assertEqual(
        sorted(tf.io.gfile.listdir(root)), ['binary.py', 'pkg', 'r.md']
    )


if __name__ == '__main__':
  absltest.main()
