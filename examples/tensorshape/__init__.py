"""TensorShape: Dimension objects (TF1) -> ints (TF2)."""
