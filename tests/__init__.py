"""Tests of estimator_migrate; the layout mirrors the package."""
