"""Rewrites v1 canned-estimator source as v2 code that trains the same.

Modules: `names` (what a call names, through any import style), `values`
(what its arguments are, read from the source), `calls` (one construction
translated with the toolkit's tables and written back), `layout` (80
columns), `transformer` (one module's source), `files` (files and trees,
atomic in-place writes), `report` (every edit, file:line).

Example:
  from estimator_migrate.rewrite import files
  result = files.rewrite_paths(['trainer/'], in_place=True)
  print(result.markdown())
"""
