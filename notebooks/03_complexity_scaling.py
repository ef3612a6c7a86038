# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-papermill,-execution
#     formats: ipynb,py:percent
#     notebook_metadata_filter: -jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python (emtlib)
#     language: python
#     name: emtlib
# ---

# %% [markdown]
# # 03 · Complexity scaling of the fusion strategies (beyond paper Table 1)
#
# Measured cost of OOLL, OALL and OAGL as the number of modalities M grows (2-8, synthetic
# inputs) and as the sequence length T grows, against Table 1's asymptotic orders. MACs are those of
# the fusion module (one layer, d = 128, batch 1, full masks), counted with `FlopCounterMode`
# (MACs = FLOPs / 2); seconds are the median forward + backward time on this session's device.

# %% tags=["parameters"]
dataset = "mosi"          # mosi | mosei | sims
data_root = "data"         # the MMSA pickle, or a root holding <DS>/Processed/<file>
synthetic = False          # True: the built-in stand-in shaped like `dataset`
profile = "paper"          # paper: the protocol | demo: learns on a CPU | smoke: plumbing
device = "auto"            # auto | cpu | cuda
text_encoder = None        # None: the profile's (bert-base / minilm); or a local directory
results_dir = "results"    # run records and figures (relative paths: from the repository root)

# %%
from emtlib.notebook import setup
S = setup(dataset, data_root, synthetic, profile, device, text_encoder, results_dir)

# %%
from emtlib import plots
from emtlib.notebook import scaling_macs
by_M, by_T = S.fusion_scaling()
scaling_macs(by_M, "M")

# %%
scaling_macs(by_T, "T")

# %%
fig = plots.complexity_scaling(by_M, x="M", y="macs", name="03_scaling_M", results_dir=S.results_dir)
fig

# %%
fig = plots.complexity_scaling(by_T, x="T", y="macs", name="03_scaling_T", results_dir=S.results_dir)
fig

# %% [markdown]
# Table 1 gives OOLL and OALL O(M²T²) and OAGL O(MT²). The measured OAGL cost grows linearly
# in M and OOLL quadratically, as printed; OALL grows faster than Table 1's M²: each of its M MPUs
# attends over the whole common message of length M·T, so its attention costs M³T², which is also
# what the paper's own formula in section 3.3.3 gives. In T all three are quadratic once T is large
# compared with d; below that, the linear projection and FFN costs dominate and OAGL looks linear.
