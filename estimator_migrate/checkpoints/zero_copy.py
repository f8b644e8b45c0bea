"""Zero-copy conversion: the source's data files, renamed tensors, a new index.

Most of a v1 -> v2 conversion renames tensors without changing a byte
(model variables, Adam/Adagrad/Ftrl/RMSProp/Adadelta slots, `iter` from the
global step). TF's tensor bundle keeps names only in the `.index`, so:

- the source's N data files are brought to the staged target
  (`transfer.transfer_file`: a hard link when the caller allows it, else a
  kernel copy, else a stream) and keep their numbers, `-of-<N+K>`;
- the targets whose bytes change or are new (hyperparameters, Momentum's
  slot times -lr, anything read from a part of a stored tensor) are written
  by the streaming writer (`writer.write`) into K more data files,
  normally one (a changed tensor larger than `chunk_bytes` adds one file per
  block, as the streaming writer writes it);
- the new index (`index_writer`) points every renamed tensor at its
  source bytes: its entry is the source's (dtype, shape, offset, size,
  CRC-32C) under the new name. A slot that v1 stored as one key per
  partition (`<var>/t_0/Adagrad`, `<var>/t_1/Adagrad`) becomes one
  partitioned tensor whose `slices` entries point at the partitions'
  existing bytes, which TF's reader joins on restore.

Source tensors no target uses (Adam's beta powers) stay in the copied files,
unreferenced. The source is only read: a linked file is never opened for
writing, a copied one is written under a temporary name.
"""

from collections.abc import Callable
import dataclasses
import os
import sys

import tensorflow as tf
from tensorflow.core.protobuf import tensor_bundle_pb2

from estimator_migrate import errors
from estimator_migrate.checkpoints import blocks
from estimator_migrate.checkpoints import mapping
from estimator_migrate.checkpoints import source as source_lib
from estimator_migrate.checkpoints import transfer
from estimator_migrate.checkpoints import writer
from estimator_migrate.checkpoints.bundle import format as bundle_format
from estimator_migrate.checkpoints.bundle import index as index_lib
from estimator_migrate.checkpoints.bundle import index_writer

_NEW = 'new'  # prefix of the changed tensors inside the staging directory
_Entry = tensor_bundle_pb2.BundleEntryProto


@dataclasses.dataclass(frozen=True)
class Reuse:
  """A target that points at source bytes, and the index entries that do.

  Attributes:
    target: The target.
    entry: Its entry in the new index: the source's (a joined target's with
      the slices of its pieces), in the source's shards.
    stored: Its stored slices' entries in slice-key order (none unsliced).
  """

  target: mapping.Target
  entry: _Entry
  stored: tuple[_Entry, ...] = ()


@dataclasses.dataclass(frozen=True)
class Plan:
  """Which targets point at source bytes and which are written anew.

  Attributes:
    reused: Targets whose entry (and stored slices) come from the source,
      each with the entries `write` puts in the new index.
    written: Targets the streaming writer writes into the new data file(s).
    reused_bytes: Bytes of the reused targets.
    source_bytes: Bytes of the source's data files (what is brought over).
    refused: Why the zero-copy path cannot run at all ('' when it can).
  """

  reused: tuple[Reuse, ...]
  written: tuple[mapping.Target, ...]
  reused_bytes: int
  source_bytes: int
  refused: str = ''


@dataclasses.dataclass(frozen=True)
class Written:
  """What `write` produced in the staging directory.

  Attributes:
    index: The staged checkpoint's index, as written.
    digests: The digest of every block written anew.
    transfers: How each source data file came over.
    new_files: Data files written by the streaming writer.
  """

  index: index_lib.Index
  digests: blocks.Digests
  transfers: tuple[transfer.Transfer, ...]
  new_files: int


def _whole_source(
    target: mapping.Target, source: source_lib.Source
) -> str | None:
  """The source tensor `target` is, byte for byte, or None."""
  if target.scale is not None or len(target.pieces) != 1:
    return None
  piece = target.pieces[0]
  variable = source.variables.get(piece.source)
  if variable is None or variable.dtype != target.dtype:
    return None
  if variable.shape != target.shape:
    return None
  rows = target.shape[0] if target.shape else 0
  return piece.source if (piece.start, piece.stop) == (0, rows) else None


def _joined_slices(
    target: mapping.Target, source: source_lib.Source
) -> list[tuple[object, _Entry]] | None:
  """(slice, stored entry) of the source for each piece, or None.

  A piece is reusable when it is exactly one stored slice of its source key
  (a v1 partition slot holds its own rows as one slice of the full shape).
  """
  if target.scale is not None or not target.pieces:
    return None
  out = []
  for piece in target.pieces:
    variable = source.variables.get(piece.source)
    if variable is None or variable.dtype != target.dtype:
      return None
    if variable.shape != target.shape:
      return None
    if not source.index.entries[piece.source].slices:
      return None
    found = [
        (tensor_slice, stored)
        for tensor_slice, stored in source.index.slices(piece.source)
        if index_lib.slice_rows(tensor_slice, target.shape)
        == (piece.start, piece.stop)
    ]
    if len(found) != 1:
      return None
    out.append(found[0])
  return out


def _refusal(source: source_lib.Source) -> str:
  header = source.index.header
  if header.endianness != tensor_bundle_pb2.BundleHeaderProto.LITTLE or (
      sys.byteorder != 'little'
  ):
    return (
        'the source bundle or this machine is big-endian, and a bundle'
        ' keeps one byte order for all its data files'
    )
  for path in source.data_files():
    if not tf.io.gfile.exists(path):
      return f'{path} does not exist (the source holds no data bytes)'
  return ''


def _reuse(target: mapping.Target, source: source_lib.Source) -> Reuse | None:
  """How `target` points at the source's bytes, or None if it cannot."""
  name = _whole_source(target, source)
  if name is not None:
    entry = source.index.entries[name]
    stored = source.index.slice_entries.get(name, []) if entry.slices else []
    return Reuse(
        target, _entry_in(entry, 0), tuple(_stored_in(e, 0) for e in stored)
    )
  pairs = _joined_slices(target, source)
  if not pairs:
    return None
  slices, stored = _sorted_slices(target.name, pairs)
  entry = _entry_in(source.index.entries[target.pieces[0].source], 0)
  del entry.slices[:]
  entry.slices.extend(slices)
  return Reuse(target, entry, tuple(_stored_in(e, 0) for e in stored))


def plan(
    source: source_lib.Source, targets: tuple[mapping.Target, ...]
) -> Plan:
  """Splits `targets` into reused (with their new entries) and written."""
  reused, written = [], []
  for target in targets:
    reuse = _reuse(target, source)
    if reuse is not None:
      reused.append(reuse)
    else:
      written.append(target)
  refused = _refusal(source)
  source_bytes = 0
  if not refused:
    source_bytes = sum(
        tf.io.gfile.stat(path).length for path in source.data_files()
    )
  return Plan(
      tuple(reused),
      tuple(written),
      sum(r.target.nbytes for r in reused),
      source_bytes,
      refused,
  )


def _check_sizes(source: source_lib.Source) -> None:
  """Refuses data files shorter than the index says (truncated), by name."""
  ends: dict[int, tuple[int, str]] = {}
  for name, entry in source.index.entries.items():
    stored = (
        source.index.slice_entries.get(name, []) if entry.slices else [entry]
    )
    for piece in stored:
      end = piece.offset + piece.size
      if end > ends.get(piece.shard_id, (0, ''))[0]:
        ends[piece.shard_id] = (end, name)
  for shard, path in enumerate(source.data_files()):
    end, name = ends.get(shard, (0, ''))
    size = tf.io.gfile.stat(path).length
    if size < end:
      raise errors.CheckpointError(
          f'{path} ends before {name!r} does ({size} of {end} bytes): the'
          ' checkpoint data is corrupt or truncated.'
      )


def check_source(source: source_lib.Source, zero_copy_plan: Plan) -> None:
  """Checks the source bytes of every reused target against their CRC-32C.

  Run when the staged checkpoint fails verification, to say whether the
  source itself is corrupt (the error then names its data file).

  Raises:
    CheckpointError: A reused source tensor does not match its checksum.
  """
  for reuse in zero_copy_plan.reused:
    for name in {piece.source for piece in reuse.target.pieces}:
      source.reader.check(name, source.variables[name].shape)


def _entry_in(entry: _Entry, shard_offset: int) -> _Entry:
  copied = _Entry()
  copied.CopyFrom(entry)
  if not copied.slices:
    copied.shard_id += shard_offset
  return copied


def _stored_in(stored: _Entry, shard_offset: int) -> _Entry:
  copied = _Entry()
  copied.CopyFrom(stored)
  copied.shard_id += shard_offset
  return copied


def _sorted_slices(name: str, pairs) -> tuple[list, list[_Entry]]:
  """Slices and their stored entries in slice-key order (the table's)."""
  keyed = sorted(
      ((index_writer.slice_key(name, s), s, e) for s, e in pairs),
      key=lambda item: item[0],
  )
  return [s for _, s, _ in keyed], [e for _, _, e in keyed]


def write(
    source: source_lib.Source,
    zero_copy_plan: Plan,
    staged_prefix: str,
    *,
    link: bool,
    chunk_bytes: int,
    progress: Callable[[int, int], None] | None = None,
) -> Written:
  """Brings the source's data files over, writes the rest and the new index.

  Args:
    source: The source checkpoint; only read.
    zero_copy_plan: From `plan`; must not be refused.
    staged_prefix: The prefix to fill, in a staging directory the caller
      owns and removes (`staging.staged`).
    link: Allow hard links to the source's data files.
    chunk_bytes: Largest block the streaming writer holds.
    progress: Called with (bytes done, bytes in all).

  Returns:
    The new index, the digests of what was written, and the transfers.

  Raises:
    CheckpointError: A data file could not be brought over or written.
  """
  staging_dir = os.path.dirname(staged_prefix) or '.'
  source_files = source.data_files()
  _check_sizes(source)
  total = zero_copy_plan.source_bytes + sum(
      t.nbytes for t in zero_copy_plan.written
  )
  done = 0

  # The changed and new tensors first: their file count sets -of-<N+K>.
  digests = blocks.Digests()
  new_index = None
  new_prefix = os.path.join(staging_dir, _NEW)
  if zero_copy_plan.written:

    def written_progress(written_done: int, _: int) -> None:
      if progress:
        progress(done + written_done, total)

    digests = writer.write(
        source.reader,
        zero_copy_plan.written,
        new_prefix,
        chunk_bytes=chunk_bytes,
        progress=written_progress,
    )
    new_index = index_lib.read_index(new_prefix)
    done += sum(t.nbytes for t in zero_copy_plan.written)
  new_files = max(new_index.header.num_shards, 1) if new_index else 0
  shards = len(source_files) + new_files

  def data_file(shard: int) -> str:
    return bundle_format.data_file(staged_prefix, shard, shards)

  transfers = []
  for shard, path in enumerate(source_files):
    transfers.append(transfer.transfer_file(path, data_file(shard), link=link))
    done += transfers[-1].size
    if progress:
      progress(done, total)
  try:
    for shard in range(new_files):
      tf.io.gfile.rename(
          bundle_format.data_file(new_prefix, shard, new_files),
          data_file(len(source_files) + shard),
      )
    if new_index is not None:
      tf.io.gfile.remove(new_prefix + '.index')
  except tf.errors.OpError as e:
    raise errors.CheckpointError(
        f'cannot write the checkpoint in {staging_dir}: {e.message}. Check'
        ' free space and permissions there; nothing of the target was'
        ' written.'
    ) from e

  header = tensor_bundle_pb2.BundleHeaderProto()
  header.CopyFrom(source.index.header)
  header.num_shards = shards
  entries: dict[str, _Entry] = {}
  slice_entries: dict[str, list[_Entry]] = {}
  for reuse in zero_copy_plan.reused:
    entries[reuse.target.name] = reuse.entry
    if reuse.entry.slices:
      slice_entries[reuse.target.name] = list(reuse.stored)
  if new_index is not None:
    offset = len(source_files)
    for name, entry in new_index.entries.items():
      entries[name] = _entry_in(entry, offset)
    for name, stored in new_index.slice_entries.items():
      slice_entries[name] = [_stored_in(e, offset) for e in stored]
  index = index_lib.Index(header, entries, slice_entries)
  index_writer.write_index(staged_prefix, index)
  return Written(index, digests, tuple(transfers), new_files)
