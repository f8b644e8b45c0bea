"""Draws the demo's training-loss curves: TF1 vs migrated, per model."""

from collections.abc import Mapping, Sequence

Curve = Sequence[tuple[int, float]]
_STYLES = {'TF1': '-', 'migrated': '--'}  # any other curve: dotted


def loss_curves(
    path: str, models: Mapping[str, Mapping[str, Curve]], boundary: int
) -> None:
  """One panel per model: the TF1 curve and the migrated one, overlaid.

  Args:
    path: PNG file to write.
    models: Model name -> {'TF1': curve, 'migrated': curve, ...}.
    boundary: The step at which the checkpoint was migrated.
  """
  # Imported here, not at the top: matplotlib logs warnings at import (e.g.
  # an unwritable ~/.config), which must come after the binary has set the
  # verbosity, and a run refused for bad input never needs it.
  import matplotlib  # pylint: disable=g-import-not-at-top

  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

  figure, axes = plt.subplots(
      1, len(models), figsize=(6 * len(models), 4), squeeze=False
  )
  for axis, (name, curves) in zip(axes[0], models.items(), strict=True):
    for label, curve in curves.items():
      if curve:
        steps, values = zip(*curve, strict=True)
        axis.plot(
            steps,
            values,
            label=label,
            linestyle=_STYLES.get(label, ':'),
            # Any other curve (Keras 3) may lie on the migrated one: marked.
            marker=None if label in _STYLES else 'o',
            markersize=4,
            fillstyle='none',
        )
    axis.axvline(boundary, color='gray', linewidth=0.8)
    axis.annotate(
        'migrated here',
        (boundary, axis.get_ylim()[1]),
        fontsize=8,
        ha='left',
        va='top',
    )
    axis.set_title(name)
    axis.set_xlabel('global step')
    axis.set_ylabel('training loss (log scale)')
    axis.set_yscale('log')
    axis.legend()
  figure.tight_layout()
  figure.savefig(path, dpi=100)
  plt.close(figure)
