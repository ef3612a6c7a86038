"""emtlib: a reference implementation of EMT-DLFR (Sun et al., IEEE TAC 2023)."""

__version__ = "0.1.0"
