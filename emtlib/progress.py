"""Progress bars: `tqdm.auto` without the warning it prints in kernels lacking ipywidgets.

That warning names an absolute path of the environment, which would make every executed
notebook differ between machines; the plain-text bar it falls back to is what we want anyway.
"""
import warnings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="IProgress not found")
    from tqdm.auto import tqdm

__all__ = ["tqdm"]
