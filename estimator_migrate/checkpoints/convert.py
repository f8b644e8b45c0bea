"""Converts a TF1 canned-estimator checkpoint for v2 (Keras-optimizer) estimators.

Example:
  report = convert.convert_optimizer_checkpoint(
      '/models/v1',                       # a model_dir or checkpoint prefix
      '/models/v2/model.ckpt-5000')       # its directory is the v2 model_dir
  print(report.summary())

Two paths write the same checkpoint (`path=`):
- `'zero_copy'` (`zero_copy`): the source's data files are brought over
  unchanged (a hard link with `link=True`, else a kernel copy, else a
  stream) and a new index renames their tensors; only new and changed
  tensors are written, into one more data file.
- `'stream'` (`writer`): every tensor is read, checked and written anew.
`'auto'` (default) takes the zero-copy path when it can run and the source
bytes it reuses are at least half of the source's data files (or
`link=True`, which makes bringing them over free); see `choose_path`.
"""

from collections.abc import Mapping
import dataclasses
import json
import math
import os
import time
from typing import Any

import tensorflow as tf

from estimator_migrate import errors
from estimator_migrate.checkpoints import files
from estimator_migrate.checkpoints import graph as graph_lib
from estimator_migrate.checkpoints import mapping
from estimator_migrate.checkpoints import roles
from estimator_migrate.checkpoints import source as source_lib
from estimator_migrate.checkpoints import staging
from estimator_migrate.checkpoints import verify as verify_lib
from estimator_migrate.checkpoints import writer
from estimator_migrate.checkpoints import zero_copy
from estimator_migrate.checkpoints.bundle import ranges
from estimator_migrate.tables import optimizers

PATHS = ('auto', 'zero_copy', 'stream')
# Auto takes the zero-copy path when at least this share of the source's data
# bytes is reused: below it, copying dead bytes costs more than rewriting.
_MIN_REUSED_SHARE = 0.5


@dataclasses.dataclass(frozen=True)
class ConversionReport:
  """What a conversion read, wrote, left out, and how long it took."""

  source: str
  target: str
  estimator_type: str
  optimizers: Mapping[str, str]  # part -> 'training/<name>: <Keras config>'
  exact: Mapping[str, bool]  # part -> the v2 optimizer computes v1's update
  tensors: int
  bytes: int
  seconds: float
  verified: bool
  dropped: tuple[tuple[str, str], ...]
  mapping: tuple[tuple[str, str], ...]  # target name, how it is made
  path: str = 'stream'  # 'zero_copy' or 'stream'
  path_reason: str = ''  # why this path (auto) or that it was asked for
  transfer: str = (
      ''  # zero-copy: 'link', 'kernel copy' or 'stream' (mixed: ', ')
  )
  transfer_refused: tuple[str, ...] = ()  # why faster means did not run
  reused_bytes: int = 0  # bytes of targets pointing at the source's bytes
  written_bytes: int = 0  # bytes written by the streaming writer
  data_files: int = 0  # data files of the target

  def describe_path(self) -> str:
    """The path taken, how the data came over, and what was written."""
    if self.path == 'zero_copy':
      return (
          f'zero-copy ({self.transfer}): {_size(self.reused_bytes)}'
          f' renamed, {_size(self.written_bytes)} written,'
          f' {self.data_files} data files'
      )
    return f'streamed: {_size(self.written_bytes)} written'

  def summary(self) -> str:
    lines = [
        f'converted {self.source} -> {self.target}',
        f'  estimator: {self.estimator_type}; {self.tensors} tensors,'
        f' {self.bytes / 1e6:.1f} MB in {self.seconds:.2f} s'
        f' ({"verified" if self.verified else "NOT verified"})',
        f'  path: {self.describe_path()} ({self.path_reason})',
    ]
    lines += [f'  not used: {why}' for why in self.transfer_refused]
    for part, described in self.optimizers.items():
      exact = 'exact' if self.exact[part] else 'NOT exact: see the README'
      lines.append(f'  {part}: {described} ({exact})')
    for name, why in self.dropped:
      lines.append(f'  left out {name}: {why}')
    return '\n'.join(lines)

  def to_json(self) -> str:
    return json.dumps(dataclasses.asdict(self), indent=2)


@dataclasses.dataclass(frozen=True)
class ConvertOptions:
  """How to convert: every choice `convert_optimizer_checkpoint` takes.

  The attributes are its keyword arguments, documented there;
  `convert_checkpoint` takes them as one value.
  """

  estimator_type: str = 'auto'
  optimizers: Mapping[str, Any] | None = None
  source_graph: str | None = None
  exact: bool = False
  chunk_bytes: int = writer.DEFAULT_CHUNK_BYTES
  overwrite: bool = False
  verify: bool = True
  progress: writer.Progress | None = None
  path: str = 'auto'
  link: bool = False


def _size(nbytes: int) -> str:
  return f'{nbytes / 1e6:.1f} MB' if nbytes >= 1e5 else f'{nbytes:,} bytes'


def _check_target(source: source_lib.Source, target: str) -> None:
  """Refuses a target that could touch the source, or is not a prefix."""
  if not target:
    raise errors.CheckpointError(
        'target is empty: give a checkpoint prefix'
        ' such as /models/v2/model.ckpt-1000.',
        argument='target',
    )
  if not os.path.basename(target) or tf.io.gfile.isdir(target):
    raise errors.CheckpointError(
        f'target={target!r} is a directory; give a prefix inside it, e.g.'
        f' {os.path.join(target, os.path.basename(source.prefix))}.',
        argument='target',
    )
  if files.is_local(target) and set('[]*?') & set(target):
    # TF's checkpoint readers glob the prefix: a target named so could be
    # written, but never restored (measured with TF 2.15).
    raise errors.CheckpointError(
        f'target={target!r} contains one of [ ] * ?, and TensorFlow cannot'
        ' restore a checkpoint from such a path. Choose a target without'
        ' them.',
        argument='target',
    )
  # Real paths: `../v1/x` or a symlinked directory must not reach the source.
  # The target's directory receives a `checkpoint` state file, so it may not
  # be the source's directory (nor lie inside the source prefix).
  source_prefix = files.real(source.prefix)
  source_dir = os.path.dirname(source_prefix)
  target_real = files.real(target)
  if (
      os.path.dirname(target_real) == source_dir
      or files.inside(target_real, source_prefix)
      or target_real.startswith(source_prefix + '.')
  ):
    raise errors.CheckpointError(
        f"target={target!r} is in the source checkpoint's directory"
        f' {source_dir}; the source is never written. Choose a new directory'
        ' (it becomes the v2 model_dir).',
        argument='target',
    )


def _check_layout(
    layout: roles.Layout, estimator_type: str
) -> roles.EstimatorType:
  """The estimator type, checked against the variables actually there."""
  if estimator_type == 'auto':
    return layout.estimator_type()  # refuses v2 and non-canned layouts
  if estimator_type not in roles.ESTIMATOR_TYPES:
    raise errors.CheckpointError(
        f'estimator_type={estimator_type!r}; expected auto or one of'
        f' {list(roles.ESTIMATOR_TYPES)}.',
        argument='estimator_type',
    )
  parts = set(layout.parts())
  expected = set(mapping.creation_order(estimator_type))
  if 'training' in parts:
    raise errors.CheckpointError(
        'the checkpoint already keeps Keras optimizer state under training/:'
        ' it is a v2 checkpoint, nothing to convert.'
    )
  if parts - expected or expected - parts:
    raise errors.CheckpointError(
        f'estimator_type={estimator_type!r} has parts {sorted(expected)}, but'
        f' the checkpoint has variables under {sorted(parts)}. Pass the'
        " checkpoint's own type (or auto); a custom model_fn checkpoint is"
        ' mapped with checkpoints.assignment instead.',
        argument='estimator_type',
    )
  return estimator_type


def _part_optimizers(
    source: source_lib.Source,
    layout: roles.Layout,
    estimator_type: roles.EstimatorType,
    options: ConvertOptions,
) -> dict[str, optimizers.OptimizerPlan]:
  """Each part's optimizer: given, else rebuilt from the v1 graph."""
  parts = mapping.creation_order(estimator_type)
  given = dict(options.optimizers or {})
  exact = options.exact
  unknown = sorted(set(given) - set(parts))
  if unknown:
    raise errors.CheckpointError(
        f'optimizers= names parts {unknown}; a {estimator_type} checkpoint'
        f' has parts {parts}.',
        argument='optimizers',
    )
  found_graph = None
  part_optimizers = {}
  for part in parts:
    slot_name = layout.slot_optimizer(part)
    if part in given:
      part_optimizers[part] = optimizers.plan_optimizer(
          given[part], exact=exact
      )
      expected = (
          part_optimizers[part].row.v1_name
          if part_optimizers[part].v1_slots
          else None
      )
      if slot_name != expected:
        found = f'slots named {slot_name!r}' if slot_name else 'no slots'
        raise errors.CheckpointError(
            f'the optimizer given for {part}/ in optimizers= is'
            f' {part_optimizers[part].row.v1_class}, but the'
            f' checkpoint has {found} under {part}/. Give the optimizer that'
            ' trained it, or leave it out to read it from the graph.',
            argument='optimizers',
        )
      continue
    if found_graph is None:
      path = graph_lib.graph_path(source.prefix, options.source_graph)
      if path is None:
        raise errors.CheckpointError(
            f'no graph next to {source.prefix} (.meta or graph.pbtxt) to read'
            f' the optimizers from: pass source_graph=, or optimizers='
            f'{{"{part}": ...}}.',
            argument=('optimizers', 'source_graph'),
        )
      found_graph = graph_lib.read_optimizers(graph_lib.load_graph_def(path))
    matches = [g for g in found_graph if part in g.parts]
    if len(matches) != 1:
      raise errors.CheckpointError(
          f'the graph has {len(matches)} optimizers training {part}/'
          f' ({[g.scope for g in matches]}); pass optimizers={{"{part}": ...}}.',
          argument='optimizers',
      )
    if slot_name and slot_name != matches[0].row.v1_name:
      raise errors.CheckpointError(
          f'{part}/ slots are named {slot_name!r} but the graph trains it with'
          f' {matches[0].scope}; pass optimizers={{"{part}": ...}}.',
          argument='optimizers',
      )
    part_optimizers[part] = optimizers.plan_optimizer(
        graph_lib.v1_optimizer(matches[0]), exact=exact
    )
  return part_optimizers


def optimizer_plans(
    source: source_lib.Source,
    *,
    estimator_type: str = 'auto',
    source_graph: str | None = None,
) -> tuple[roles.Layout, roles.EstimatorType, dict]:
  """What a conversion of `source` would target, before anything is written.

  The layout, the estimator type and each part's optimizer plan, determined
  as `convert_optimizer_checkpoint` determines them (optimizers read from
  the v1 graph); `mapping.plan_targets` lists the tensors from them.

  Raises:
    CheckpointError: Not a v1 canned layout, or an optimizer that cannot be
      determined from the graph.
    TranslationError: An optimizer without a v2 translation.
  """
  layout = roles.classify(source.variables)
  checked_type = _check_layout(layout, estimator_type)
  return (
      layout,
      checked_type,
      _part_optimizers(
          source,
          layout,
          checked_type,
          ConvertOptions(source_graph=source_graph),
      ),
  )


def choose_path(path: str, plan: zero_copy.Plan, link: bool) -> tuple[str, str]:
  """('zero_copy' or 'stream', why) for the `path` asked for.

  Raises:
    CheckpointError: `path` is not one of PATHS, or 'zero_copy' was asked
      for and cannot run.
  """
  if path not in PATHS:
    raise errors.CheckpointError(
        f'path={path!r}; expected one of {list(PATHS)}.', argument='path'
    )
  if path == 'stream':
    return 'stream', 'asked for'
  if plan.refused:
    if path == 'zero_copy':
      raise errors.CheckpointError(
          f'path=zero_copy cannot run: {plan.refused}. Pass path=stream'
          ' (or auto).',
          argument='path',
      )
    return 'stream', f'zero-copy cannot run: {plan.refused}'
  if path == 'zero_copy':
    return 'zero_copy', 'asked for'
  share = plan.reused_bytes / max(plan.source_bytes, 1)
  if not plan.reused:
    return 'stream', 'auto: no tensor keeps its bytes'
  if link:
    return 'zero_copy', 'auto: link allowed'
  if share < _MIN_REUSED_SHARE:
    return 'stream', (
        f'auto: only {share:.0%} of the source bytes are reused unchanged'
    )
  return 'zero_copy', f'auto: {share:.0%} of the source bytes reused'


def convert_optimizer_checkpoint(
    source: str | os.PathLike,
    target: str | os.PathLike,
    *,
    estimator_type: str = 'auto',
    optimizers: Mapping[str, Any] | None = None,  # pylint: disable=redefined-outer-name
    source_graph: str | os.PathLike | None = None,
    exact: bool = False,
    chunk_bytes: int = writer.DEFAULT_CHUNK_BYTES,
    overwrite: bool = False,
    verify: bool = True,
    progress: writer.Progress | None = None,
    path: str = 'auto',
    link: bool = False,
) -> ConversionReport:
  """Converts a v1 canned-estimator checkpoint for the translated v2 estimator.

  Model weights are copied bit for bit; v1 optimizer slots become the Keras
  optimizer's slots (Momentum's scaled by -lr); hyperparameter variables come
  from the same translation `canned.translate_canned_args` applies.

  The source is only read, and every byte read is checked against the
  CRC-32C in its index. The target is written and verified in a temporary
  directory beside it, under a lock on its directory, then moved into place;
  the `checkpoint` state file is written last.

  Args:
    source: A checkpoint prefix, or a model_dir (its latest checkpoint).
      Only read.
    target: The prefix to write; its directory is the v2 model_dir and may
      not be the source's directory.
    estimator_type: `'auto'` (from variable names) or one of
      `roles.ESTIMATOR_TYPES`; it must match the checkpoint's variables.
    optimizers: Part (`'dnn'`, `'linear'`, `'baseline'`) -> the v1
      optimizer (object or canned name) or an `OptimizerPlan`; parts not
      given are read from the v1 graph (`.meta` or `graph.pbtxt`). A given
      optimizer must match the slots the checkpoint holds.
    source_graph: The graph to read instead of the one beside the checkpoint.
    exact: Target the v1-exact compat optimizers (as `exact=True` in the
      argument translation); the v2 estimator must use the same choice.
    chunk_bytes: Largest block held in memory; larger tensors go by slices.
    overwrite: Replace an existing target checkpoint.
    verify: Re-read the written checkpoint and check every block's digest
      before it replaces the target.
    progress: Called with (bytes done, bytes in all) as blocks are written.
    path: `'auto'`, `'zero_copy'` or `'stream'` (see the module docstring;
      the report says which ran and why).
    link: Let the zero-copy path hard-link the source's data files instead
      of copying them (local files on one filesystem): source and target
      then share those files. Neither this package nor TF ever writes into
      an existing data file, so this is safe unless something else edits
      checkpoint files in place; deleting either checkpoint is always safe.

  Returns:
    The report.

  Raises:
    CheckpointError: Unreadable or corrupt source, a target that is not
      allowed or not writable, another conversion writing the same
      directory, an optimizer that cannot be determined or does not match
      the slots; the target is left as it was.
  """
  return convert_checkpoint(
      source,
      target,
      ConvertOptions(
          estimator_type=estimator_type,
          optimizers=optimizers,
          source_graph=os.fspath(source_graph) if source_graph else None,
          exact=exact,
          chunk_bytes=chunk_bytes,
          overwrite=overwrite,
          verify=verify,
          progress=progress,
          path=path,
          link=link,
      ),
  )


def convert_checkpoint(
    source: str | os.PathLike,
    target: str | os.PathLike,
    options: ConvertOptions | None = None,
) -> ConversionReport:
  """`convert_optimizer_checkpoint` with its choices as one value.

  Raises:
    CheckpointError: As `convert_optimizer_checkpoint`.
  """
  began = time.perf_counter()
  options = options or ConvertOptions()
  options = dataclasses.replace(
      options, chunk_bytes=_check_chunk_bytes(options.chunk_bytes)
  )
  source = os.fspath(source)
  target = os.fspath(target)
  with source_lib.open_source(source) as src:
    _check_target(src, target)
    layout = roles.classify(src.variables)
    estimator_type = _check_layout(layout, options.estimator_type)
    part_optimizers = _part_optimizers(src, layout, estimator_type, options)
    mapped = mapping.plan_targets(src, layout, estimator_type, part_optimizers)
    return _convert(
        src, target, estimator_type, part_optimizers, mapped, options, began
    )


def _convert(
    src: source_lib.Source,
    target: str,
    estimator_type: roles.EstimatorType,
    part_optimizers: Mapping[str, optimizers.OptimizerPlan],
    mapped: mapping.Plan,
    options: ConvertOptions,
    began: float,
) -> ConversionReport:
  """Writes, verifies and swaps in the target by the chosen path."""
  zero_copy_plan = zero_copy.plan(src, mapped.targets)
  chosen, why = choose_path(options.path, zero_copy_plan, options.link)
  transfers: tuple = ()
  with staging.staged(target) as staged:
    if tf.io.gfile.exists(target + '.index') and not options.overwrite:
      raise errors.CheckpointError(
          f'{target}.index exists. Pass overwrite=True to'
          ' replace it, or choose another target.',
          argument='overwrite',
      )
    if chosen == 'zero_copy':
      written = zero_copy.write(
          src,
          zero_copy_plan,
          staged,
          link=options.link,
          chunk_bytes=options.chunk_bytes,
          progress=options.progress,
      )
      digests, staged_index = written.digests, written.index
      transfers = written.transfers
      written_targets = zero_copy_plan.written
    else:
      digests = writer.write(
          src.reader,
          mapped.targets,
          staged,
          chunk_bytes=options.chunk_bytes,
          progress=options.progress,
      )
      staged_index = None
      written_targets = mapped.targets
    staged_reader = ranges.RangeReader(staged, staged_index)
    try:
      if options.verify:
        try:
          verify_lib.verify(
              staged_reader, mapped.targets, digests, options.chunk_bytes
          )
        except errors.CheckpointError:
          if chosen == 'zero_copy':  # name the source's file if it is corrupt
            zero_copy.check_source(src, zero_copy_plan)
          raise
      data_files = max(staged_reader.index.header.num_shards, 1)
    finally:
      staged_reader.close()
    staging.commit(staged, target)
    try:
      files.write_state(target)
    except (OSError, tf.errors.OpError) as e:
      raise errors.CheckpointError(
          f'{target} is written and verified, but the `checkpoint` state file'
          f' beside it could not be: {e}. Write it, or pass the prefix itself'
          ' to the estimator (warm_start_from).'
      ) from e
  methods = sorted({t.method for t in transfers})
  return ConversionReport(
      source=src.prefix,
      target=target,
      estimator_type=estimator_type,
      optimizers={
          part: f'training/{mapped.keras_names[part]}: {p.describe()}'
          for part, p in part_optimizers.items()
      },
      exact={part: p.exact for part, p in part_optimizers.items()},
      tensors=len(mapped.targets),
      bytes=sum(t.nbytes for t in mapped.targets),
      seconds=time.perf_counter() - began,
      verified=options.verify,
      dropped=mapped.dropped,
      mapping=tuple((t.name, t.describe()) for t in mapped.targets),
      path=chosen,
      path_reason=why,
      transfer=', '.join(methods),
      transfer_refused=tuple(
          sorted({why for t in transfers for why in t.refused})
      ),
      reused_bytes=(
          zero_copy_plan.reused_bytes if chosen == 'zero_copy' else 0
      ),
      written_bytes=sum(t.nbytes for t in written_targets),
      data_files=data_files,
  )


def _check_chunk_bytes(chunk_bytes: float) -> int:
  if not (isinstance(chunk_bytes, (int, float)) and math.isfinite(chunk_bytes)):
    raise errors.CheckpointError(
        f'chunk_bytes={chunk_bytes!r}: give a finite number of bytes >= 1.',
        argument='chunk_bytes',
    )
  if chunk_bytes < 1:
    raise errors.CheckpointError(
        f'chunk_bytes={chunk_bytes!r}: give a number of bytes >= 1.',
        argument='chunk_bytes',
    )
  return int(chunk_bytes)
