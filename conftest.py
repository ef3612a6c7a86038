"""Test configuration for the whole repository (unit tests and `pytest --nbval` notebooks).

Notebook kernels inherit this process's environment: EMTLIB_CACHE_ONLY=1 makes every run of a
notebook read its stored record and never train (emtlib.experiments), so nbval replays the stored
notebooks from the committed demo records and compares outputs that depend on nothing but those
records. tests/conftest.py lifts it for the unit tests, which train.
"""
import os

os.environ.setdefault("EMTLIB_CACHE_ONLY", "1")
