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
# # 10 · Global-local attention (paper Figure 12)
#
# The cross-attention of the global multimodal context's three tokens (query) over each
# modality's local features (key), for one test sample, in the complete view and at missing rate 0.5,
# from one EMT-DLFR model trained at rate 0.5 (or the model in `checkpoint`, e.g. the authors'
# trained one). Last fusion layer, heads averaged (an assumption: the
# paper does not say which); audio and vision average-pooled with stride 2 as in the paper. On real
# MOSI the sample is the paper's `jUzDDGyPkXU$_$27`.

# %% tags=["parameters"]
dataset = "mosi"          # mosi | mosei | sims
data_root = "data"         # the MMSA pickle, or a root holding <DS>/Processed/<file>
synthetic = False          # True: the built-in stand-in shaped like `dataset`
profile = "paper"          # paper: the protocol | demo: learns on a CPU | smoke: plumbing
device = "auto"            # auto | cpu | cuda
text_encoder = None        # None: the profile's (bert-base / minilm); or a local directory
results_dir = "results"    # run records and figures (relative paths: from the repository root)
checkpoint = None          # a trained EMT-DLFR state dict (the authors' trainer or emtlib) to look at

# %%
from emtlib.notebook import setup
S = setup(dataset, data_root, synthetic, profile, device, text_encoder, results_dir)

# %%
from emtlib import plots
from emtlib.attention import figure12_data
maps = figure12_data(None, S.spec("emt_dlfr", missing_rate=0.5), results_dir=S.results_dir,
                     checkpoint=checkpoint)
print(f"sample {maps['id']}: label {maps['label']:.2f}, prediction complete "
      f"{maps['pred_complete']:.2f}, at rate 0.5 {maps['pred_incomplete']:.2f}")

# %%
fig = plots.attention_maps(maps["complete"], maps["tokens"], second=maps["incomplete"],
                           second_tokens=maps["tokens_incomplete"], pool={},
                           name=f"10_attention_{S.dataset}", results_dir=S.results_dir)
fig
