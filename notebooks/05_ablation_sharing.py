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
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 05 · Hierarchical parameter sharing (paper Table 9)
#
# All eight combinations of MPU-, modality- and layer-level sharing (paper section 3.3.4):
# inference parameters and the AUILC of MAE and Corr, next to Table 9.

# %% tags=["parameters"]
dataset = "mosi"          # mosi | mosei | sims
data_root = "data"         # the MMSA pickle, or a root holding <DS>/Processed/<file>
synthetic = False          # True: the built-in stand-in shaped like `dataset`
profile = "paper"          # paper: the paper's protocol; smoke: a tiny CPU budget
device = "auto"            # auto | cpu | cuda
text_encoder = None        # None: the profile's (bert-base / minilm); or a local directory
results_dir = "results"    # run records and figures (relative paths: from the repository root)

# %%
from emtlib.notebook import setup
S = setup(dataset, data_root, synthetic, profile, device, text_encoder, results_dir)

# %%
from itertools import product
from emtlib import paper
from emtlib.complexity import sharing_table
from emtlib.experiments import auilc_frame
SHARING = {f"mpu={a:d},mod={b:d},layer={c:d}": (f"model.mpu_share={a}", f"model.modality_share={b}",
                                                 f"model.layer_share={c}")
           for a, b, c in product((False, True), repeat=3)}
params = sharing_table(S.spec().config())
params

# %%
from emtlib import plots
labels = params.apply(lambda r: "".join("✓" if r[k] else "✗" for k in
                                        ("mpu_share", "modality_share", "layer_share")), axis=1)
fig = plots.bar_chart(params.set_index(labels)["params_M"], ylabel="inference parameters (M)",
                      title="MPU / modality / layer sharing", name=f"05_sharing_{S.dataset}",
                      results_dir=S.results_dir)
fig

# %%
records, agg = S.run(S.grid(SHARING))
au = auilc_frame(agg)
au[au.metric.isin(["mae", "corr"])].pivot_table(index="variant", columns="metric", values="auilc").round(3)

# %%
paper.wide("table9")
