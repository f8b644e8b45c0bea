"""Estimators: TF1 train()/evaluate() -> TF2 train_and_evaluate."""
