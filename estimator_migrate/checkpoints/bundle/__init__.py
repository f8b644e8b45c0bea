"""TF's tensor bundle on disk, knowing nothing of estimators.

Modules: `format` (file names, table constants, varints, masked CRC-32C),
`index` (read a `.index`), `index_writer` (write one, byte for byte as TF
does), `ranges` (ranged, CRC-checked reads of the data files).
"""
