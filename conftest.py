"""Test configuration for the whole repository (unit tests and `pytest --nbval` notebooks).

Notebook kernels inherit this process's environment: EMTLIB_NOTEBOOK_PROFILE=smoke makes every
notebook run its smoke profile on the synthetic stand-in (see emtlib/notebook.py), which is how
the stored notebooks were executed.
"""
import os

os.environ.setdefault("EMTLIB_NOTEBOOK_PROFILE", "smoke")
