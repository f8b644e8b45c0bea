"""Converts a TF1 canned-estimator checkpoint for v2 (Keras-optimizer) estimators.

Example:
  report = convert.convert_optimizer_checkpoint(
      '/models/v1',                       # a model_dir or checkpoint prefix
      '/models/v2/model.ckpt-5000')       # its directory is the v2 model_dir
  print(report.summary())
"""

from collections.abc import Mapping
import dataclasses
import json
import os
import time
from typing import Any

import tensorflow as tf

from estimator_migrate import errors
from estimator_migrate import optimizers
from estimator_migrate.checkpoints import graph as graph_lib
from estimator_migrate.checkpoints import index
from estimator_migrate.checkpoints import mapping
from estimator_migrate.checkpoints import ranges
from estimator_migrate.checkpoints import roles
from estimator_migrate.checkpoints import source as source_lib
from estimator_migrate.checkpoints import writer


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

  def summary(self) -> str:
    lines = [
        f'converted {self.source} -> {self.target}',
        f'  estimator: {self.estimator_type}; {self.tensors} tensors,'
        f' {self.bytes / 1e6:.1f} MB in {self.seconds:.2f} s'
        f' ({"verified" if self.verified else "NOT verified"})',
    ]
    for part, described in self.optimizers.items():
      exact = 'exact' if self.exact[part] else 'NOT exact: see the README'
      lines.append(f'  {part}: {described} ({exact})')
    for name, why in self.dropped:
      lines.append(f'  left out {name}: {why}')
    return '\n'.join(lines)

  def to_json(self) -> str:
    return json.dumps(dataclasses.asdict(self), indent=2)


def _check_target(
    source: source_lib.Source, target: str, overwrite: bool
) -> None:
  if not target:
    raise errors.CheckpointError(
        'target is empty: give a checkpoint prefix'
        ' such as /models/v2/model.ckpt-1000.'
    )
  if tf.io.gfile.isdir(target):
    raise errors.CheckpointError(
        f'target {target} is a directory; give a prefix inside it, e.g.'
        f' {target}/{os.path.basename(source.prefix)}.'
    )
  source_dir = os.path.normpath(os.path.dirname(source.prefix))
  target_norm = os.path.normpath(target)
  if (
      target_norm == os.path.normpath(source.prefix)
      or target_norm.startswith(os.path.normpath(source.prefix) + '.')
      or target_norm.startswith(os.path.normpath(source.prefix) + '/')
      or os.path.dirname(target_norm) == source_dir
  ):
    raise errors.CheckpointError(
        f"target {target} is inside the source checkpoint's directory"
        f' {source_dir}; the source is never written. Choose a new directory'
        ' (it becomes the v2 model_dir).'
    )
  if tf.io.gfile.exists(target + '.index') and not overwrite:
    raise errors.CheckpointError(
        f'{target}.index exists. Pass overwrite=True (--overwrite) to replace'
        ' it, or choose another target.'
    )


def _part_plans(
    source: source_lib.Source,
    layout: roles.Layout,
    estimator_type: roles.EstimatorType,
    given: Mapping[str, Any] | None,
    source_graph: str | None,
    exact: bool,
) -> dict[str, optimizers.OptimizerPlan]:
  """Each part's optimizer: given, else rebuilt from the v1 graph."""
  parts = mapping.creation_order(estimator_type)
  given = dict(given or {})
  unknown = sorted(set(given) - set(parts))
  if unknown:
    raise errors.CheckpointError(
        f'optimizers= names parts {unknown}; a {estimator_type} checkpoint'
        f' has parts {parts}.'
    )
  found_graph = None
  plans = {}
  for part in parts:
    if part in given:
      plans[part] = optimizers.plan_optimizer(given[part], exact=exact)
      continue
    if found_graph is None:
      path = graph_lib.graph_path(source.prefix, source_graph)
      if path is None:
        raise errors.CheckpointError(
            f'no graph next to {source.prefix} (.meta or graph.pbtxt) to read'
            f' the optimizers from: pass --source_graph, or optimizers='
            f'{{"{part}": <the v1 optimizer>}}.'
        )
      found_graph = graph_lib.read_optimizers(graph_lib.load_graph_def(path))
    matches = [g for g in found_graph if part in g.parts]
    if len(matches) != 1:
      raise errors.CheckpointError(
          f'the graph has {len(matches)} optimizers training {part}/'
          f' ({[g.scope for g in matches]}); pass optimizers={{"{part}": ...}}.'
      )
    slot_name = layout.slot_optimizer(part)
    if slot_name and slot_name != matches[0].row.v1_name:
      raise errors.CheckpointError(
          f'{part}/ slots are named {slot_name!r} but the graph trains it with'
          f' {matches[0].scope}; pass optimizers={{"{part}": ...}}.'
      )
    centered = any(
        len(layout.slots.get(v, ())) == 3 for v in layout.parts().get(part, ())
    )
    plans[part] = optimizers.plan_optimizer(
        graph_lib.v1_optimizer(matches[0], centered=centered), exact=exact
    )
  return plans


def convert_optimizer_checkpoint(
    source: str,
    target: str,
    *,
    estimator_type: str = 'auto',
    optimizers: Mapping[str, Any] | None = None,  # pylint: disable=redefined-outer-name
    source_graph: str | None = None,
    exact: bool = False,
    chunk_bytes: int = writer.DEFAULT_CHUNK_BYTES,
    overwrite: bool = False,
    verify: bool = True,
    progress: writer.Progress | None = None,
) -> ConversionReport:
  """Converts a v1 canned-estimator checkpoint for the translated v2 estimator.

  Model weights are copied bit for bit; v1 optimizer slots become the Keras
  optimizer's slots (Momentum's scaled by -lr); hyperparameter variables come
  from the same translation `canned.translate_canned_args` applies.

  Args:
    source: A checkpoint prefix, or a model_dir (its latest checkpoint).
      Only read.
    target: The prefix to write; its directory is the v2 model_dir.
    estimator_type: `'auto'` (from variable names) or one of
      `roles.ESTIMATOR_TYPES`.
    optimizers: Part (`'dnn'`, `'linear'`, `'baseline'`) -> the v1
      optimizer (object or canned name) or an `OptimizerPlan`; parts not
      given are read from the v1 graph (`.meta` or `graph.pbtxt`).
    source_graph: The graph to read instead of the one beside the checkpoint.
    exact: Target the v1-exact compat optimizers (as `exact=True` in the
      argument translation); the v2 estimator must use the same choice.
    chunk_bytes: Largest block held in memory; larger tensors go by slices.
    overwrite: Replace an existing target checkpoint.
    verify: Re-read the written checkpoint and check every block's digest.
    progress: Called with (bytes done, bytes in all) as blocks are written.

  Returns:
    The report.

  Raises:
    CheckpointError: Unreadable or corrupt source, a target that is not
      allowed, an optimizer that cannot be determined; nothing is written.
  """
  began = time.perf_counter()
  if chunk_bytes < 1:
    raise errors.CheckpointError(
        f'chunk_bytes must be >= 1, got {chunk_bytes}.'
    )
  src = source_lib.open_source(source)
  _check_target(src, target, overwrite)
  layout = roles.classify(src.variables)
  if estimator_type == 'auto':
    kind = layout.estimator_type()
  elif estimator_type in roles.ESTIMATOR_TYPES:
    kind = estimator_type
  else:
    raise errors.CheckpointError(
        f'estimator_type={estimator_type!r}; expected auto or one of'
        f' {list(roles.ESTIMATOR_TYPES)}.'
    )
  plans = _part_plans(src, layout, kind, optimizers, source_graph, exact)
  plan = mapping.plan_targets(
      src, layout, kind, plans, lambda: index.read_entries(src.prefix)
  )
  tf.io.gfile.makedirs(os.path.dirname(target) or '.')
  digests = writer.write(
      src.prefix,
      plan.targets,
      target,
      chunk_bytes=chunk_bytes,
      progress=progress,
  )
  try:
    if verify:
      _verify(target, plan.targets, digests, chunk_bytes)
    tf.compat.v1.train.update_checkpoint_state(
        os.path.dirname(target) or '.', target
    )
  except BaseException:
    writer.remove(target)
    raise
  return ConversionReport(
      source=src.prefix,
      target=target,
      estimator_type=kind,
      optimizers={
          part: f'training/{plan.keras_names[part]}: {p.describe()}'
          for part, p in plans.items()
      },
      exact={part: p.exact for part, p in plans.items()},
      tensors=len(plan.targets),
      bytes=sum(t.nbytes for t in plan.targets),
      seconds=time.perf_counter() - began,
      verified=verify,
      dropped=plan.dropped,
      mapping=tuple((t.name, t.describe()) for t in plan.targets),
  )


def _verify(target: str, targets, digests, chunk_bytes: int) -> None:
  """Re-reads every block of the target and compares its digest."""
  reader = ranges.RangeReader(target)
  try:
    for t in targets:
      for block in writer.blocks(t, chunk_bytes):
        values = writer.read_values(reader, target, t.name, block)
        if writer.digest(values) != digests[(t.name, block.spec())]:
          raise errors.CheckpointError(
              f'verification failed: {t.name} {block.spec() or "(whole)"} in'
              f' {target} differs from what was written. The target was'
              ' removed; check the filesystem and convert again.'
          )
  finally:
    reader.close()
