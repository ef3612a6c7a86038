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
# # 08 · Loss weights (paper Figure 10)
#
# Sensitivity to λ1 (low-level reconstruction) and λ2 (high-level attraction) in eq. 16, over
# the paper's grid {0.5, 1.0, 1.5, 2.0}² (the smoke profile uses its corners).

# %% tags=["parameters"]
dataset = "mosi"          # mosi | mosei | sims
data_root = "data"         # the MMSA pickle, or a root holding <DS>/Processed/<file>
synthetic = False          # True: the built-in stand-in shaped like `dataset`
profile = "paper"          # paper: the paper's protocol; smoke: a tiny CPU budget
device = "auto"            # auto | cpu | cuda
text_encoder = None        # None: the profile's (bert-base / minilm); or a local directory
results_dir = "results"    # run records and figures (relative paths: from the repository root)
lambda_grid = (0.5, 1.0, 1.5, 2.0)  # the paper's λ values

# %%
from emtlib.notebook import setup
S = setup(dataset, data_root, synthetic, profile, device, text_encoder, results_dir)

# %%
from emtlib import plots
weights = lambda_grid if not S.smoke else (0.5, 2.0)
LAMBDAS = {f"l1={a},l2={b}": (f"loss.lambda_recon={a}", f"loss.lambda_attr={b}")
           for a in weights for b in weights}
records, agg = S.run(S.grid(LAMBDAS))
values = plots.loss_weight_table(agg, S.dataset)
fig = plots.loss_weight_heatmap(values, name=f"08_loss_weights_{S.dataset}",
                                results_dir=S.results_dir)
fig

# %%
values.pivot_table(index=["lambda_recon", "lambda_attr"], columns="metric", values="value").round(3)
