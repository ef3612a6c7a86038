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
# # 00 · Data overview (paper Table 2)
#
# The dataset as emtlib reads it: split sizes and sentiment classes next to the paper's
# Table 2, the feature shapes, the label distributions, and what the missing-view protocol does
# to one sample (docs/missing-views.md).

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
from emtlib import paper, plots
from emtlib.data.mmsa import class_table, shapes_table
data = S.load()
ours = class_table(data)
ours

# %% [markdown]
# The paper's Table 2 (the MOSEI *All* column there is 23453, but its splits add up to 22856):

# %%
t2 = paper.table(2)
t2[t2["dataset"] == S.dataset]

# %%
shapes_table(data)

# %%
fig = plots.label_histograms(data, name=f"00_labels_{S.dataset}", results_dir=S.results_dir)
fig

# %% [markdown]
# The incomplete view of one training sample at three missing rates: a dark cell is a
# word piece replaced by [UNK] or a frame replaced by zeros; light is kept, white is padding.

# %%
fig = plots.missing_view(data["train"], index=0, rates=(0.3, 0.5, 0.7),
                        name=f"00_missing_view_{S.dataset}", results_dir=S.results_dir)
fig
