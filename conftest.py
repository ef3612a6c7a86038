"""Test configuration for the whole repository (unit tests and `pytest --nbval` notebooks).

Notebook kernels inherit this process's environment: EMTLIB_CACHE_ONLY=1 makes every run of a
notebook read its stored record and never train (emtlib.experiments), so nbval replays the stored
notebooks from the committed demo records and compares outputs that depend on nothing but those
records. tests/conftest.py lifts it for the unit tests, which train.

The suite runs on two pytest-xdist workers (pyproject.toml: `-n 2 --dist loadfile`), each test
file and each notebook on one worker. Every process of the session (workers, notebook kernels,
the subprocesses tests start) computes on one thread: two processes with two threads each on two
cores contend, up to 10x slower.
"""
import os

os.environ.setdefault("EMTLIB_CACHE_ONLY", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

# The longest files first (from `pytest --durations`): the workers take files in collection order
# (`--no-loadscope-reorder`), so these start at once and the short ones fill in around them.
LONGEST_FIRST = ("tests/test_notebooks_papermill.py", "tests/test_executors.py",
                 "tests/test_train.py", "tests/test_baseline_training.py", "tests/test_browser.py")


def pytest_collection_modifyitems(items):
    def rank(item):
        path = item.nodeid.split("::")[0]
        return LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: tests and notebook cells keep their order within a file
