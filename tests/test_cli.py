"""The command line as a user meets it: one message and exit status 2 for a user error (the
traceback only on request), the version, the program's name, and refusals before any work."""
from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from emtlib import __version__
from emtlib.__main__ import main
from tests.conftest import tiny_data

ROOT = Path(__file__).resolve().parents[1]


def test_version_and_program_name(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.strip() == f"emtlib {__version__}"
    with pytest.raises(SystemExit):
        main(["--help"])
    assert capsys.readouterr().out.startswith("usage: emtlib ")


@pytest.mark.parametrize("argv, message", [
    (["train", "--dataset", "mosi", "--synthetic", "--profile", "smoke", "--set", "model.d_model",
      "--out", "{tmp}/r.json"], "model.d_model"),
    (["train", "--dataset", "mosi", "--synthetic", "--profile", "smoke", "--set",
      "model.no_such=1", "--out", "{tmp}/r.json"], "no_such"),
    (["train", "--method", "emt", "--missing-rate", "0.5", "--dataset", "mosi", "--synthetic",
      "--profile", "smoke", "--out", "{tmp}/r.json"], "method 'emt' is the complete setting"),
    (["train", "--dataset", "mosi", "--synthetic", "--profile", "smoke", "--seed", str(2**70),
      "--out", "{tmp}/r.json"], "expected an int in [0, 4294967295]"),
    (["inspect", "--dataset", "mosi", "--data", "{tmp}/ids.pkl"], "token id 10000000, outside"),
    (["sweep", "--grid", "99", "--synthetic", "--results-dir", "{tmp}/res"], "grid '99'"),
    (["sweep", "--grid", "04", "--synthetic", "--results-dir", "{tmp}/file"], "is a file"),
])
def test_a_user_error_is_one_message_and_exit_status_2(tmp_path, capsys, argv, message):
    data = tiny_data("mosi")
    data["train"]["text_bert"][1, 0, 1] = 10_000_000  # a token id no vocabulary has
    (tmp_path / "ids.pkl").write_bytes(pickle.dumps(data))
    (tmp_path / "file").write_text("")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"emtlib {argv[0]}: error: ") and message in err, err
    assert "Traceback" not in err and len(err.splitlines()) <= 3
    assert not (tmp_path / "r.json").exists()


def test_debug_environment_variable_shows_the_traceback(tmp_path, monkeypatch):
    monkeypatch.setenv("EMTLIB_DEBUG", "1")
    with pytest.raises(ValueError, match="complete setting"):
        main(["train", "--method", "emt", "--missing-rate", "0.5", "--dataset", "mosi",
              "--synthetic", "--profile", "smoke", "--out", str(tmp_path / "r.json")])


def test_the_console_script_exits_2_without_a_traceback(tmp_path):
    exe = Path(sys.executable).with_name("emtlib")
    if not exe.exists():
        pytest.skip("emtlib is not installed as a console script in this environment")
    p = subprocess.run([str(exe), "train", "--dataset", "mosi", "--data", str(tmp_path),
                        "--out", str(tmp_path / "r.json")], capture_output=True, text=True,
                       env={k: v for k, v in os.environ.items() if k != "EMTLIB_DEBUG"})
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert p.stderr.startswith("emtlib train: error: no MOSI pickle")
