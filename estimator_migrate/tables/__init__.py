"""What v1 was: the knowledge tables every other part reads.

The first stop on the road. Each module is one table of TF 1.x behaviour and
its TF 2 / Keras counterpart, with the small translations built on it:
`estimators` (the canned families, their parts and v1 defaults),
`optimizers` (v1 optimizer <-> Keras optimizer, hyperparameters, slots),
`heads` (v1 heads -> v2 heads, loss reductions), `compat_optimizers` (Keras
optimizers that reproduce v1 update rules bit for bit).
"""
