"""Name-based TF1 checkpoints restored into Keras models, three ways."""
