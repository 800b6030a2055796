"""Converters that turn public QA benchmarks into a transcript corpus plus gold files for `kb eval`."""
