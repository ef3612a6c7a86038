"""The seven baselines of the paper's Tables 4-7: TFN, LMF, MulT, MISA, Self-MM, MMIM, TFR-Net.

Each module holds one model, its loss and its optimizer; the hyperparameters are in
emtlib.config.baselines and the training loops in emtlib.procedures.
"""
from __future__ import annotations

import torch.nn as nn

from emtlib.config.baselines import hparams_class


def build_baseline(method: str, h, text_encoder: nn.Module) -> nn.Module:
    """The baseline model of `method` for hyperparameters `h` around an already-built text encoder."""
    from . import lmf, misa, mmim, mult, self_mm, tfn, tfr_net

    cls = {"tfn": tfn.TFN, "lmf": lmf.LMF, "mult": mult.MulT, "tfr_net": tfr_net.TFRNet,
           "misa": misa.MISA, "self_mm": self_mm.SelfMM, "mmim": mmim.MMIM}[method]
    if not isinstance(h, hparams_class(method)):
        raise TypeError(f"{method}: expected {hparams_class(method).__name__}, got {type(h).__name__}")
    return cls(h, text_encoder)
