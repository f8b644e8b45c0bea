"""Variables and session.run: TF1 placeholders and scopes -> tf.Variable."""
