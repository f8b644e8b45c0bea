"""Checkpoint conversion: v1 canned-estimator checkpoints for v2 estimators.

Modules: `source` (open, read only), `roles` (classify variables), `graph`
(v1 optimizers from the saved graph), `mapping` (target tensors), `writer`
(streaming, sliced, atomic), `convert` (the entry point). `bundle` holds
TF's tensor bundle format (index, data files, CRC-32C) and imports nothing
from the estimator side.
"""
