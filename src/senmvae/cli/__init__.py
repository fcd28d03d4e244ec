"""The ``senmvae`` command line."""
