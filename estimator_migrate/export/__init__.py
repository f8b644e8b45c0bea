"""Leaving Estimators (the TF 2.15 side): a trained estimator as a Keras 3 model.

Modules: `columns` (feature columns to preprocessing-layer specs),
`families` (canned families to the model spec), `weights` (checkpoint
tensors), `optimizer_state` (slots, iterations and hyperparameters for
`load(compile=True)`), `codegen` (the export directory, from the
templates in `estimator_migrate/keras3/`), `modern` (the current-TensorFlow
subprocess), `serving` (saved_model/ written there), `parity` (predictions
and continued training compared there), `exporter` (the entry point
`canned_to_keras`), `custom` (`keras_model_to_keras`, custom estimators),
`model_fn_trace` / `model_fn_graph` / `model_fn_losses` / `model_fn_export`
(`model_fn_to_keras`: a TF 1.x model_fn read from the graph it builds).
"""

from estimator_migrate.export.custom import keras_model_to_keras
from estimator_migrate.export.exporter import ExportResult
from estimator_migrate.export.exporter import canned_to_keras
from estimator_migrate.export.model_fn_export import model_fn_to_keras

__all__ = [
    'ExportResult',
    'canned_to_keras',
    'keras_model_to_keras',
    'model_fn_to_keras',
]
