"""The end-to-end demo: a TF1 project migrated with the toolkit, and the proof.

`tf1_project` is the code being migrated, as a TF 1.x user wrote it;
`tf2_project` its Keras twin; `run` trains, migrates, continues and compares;
`plot` draws the loss curves.
"""
