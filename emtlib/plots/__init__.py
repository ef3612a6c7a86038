"""The paper's figures, drawn from aggregated result frames (seaborn/matplotlib).

Every function returns a `matplotlib.figure.Figure` built WITHOUT pyplot (nothing global is
registered, so nothing needs closing and no `plt.show` is called); in a notebook, show it with
`display(fig)` or as a cell's last expression. When `results_dir` is given, the figure is also
written to `<results_dir>/figures/<name>.png` and `.pdf` by `save_figure`, with the timestamp
and software entries removed from the file metadata so that reruns produce identical bytes.

| function              | module         | paper                 | layout                                      |
|-----------------------|----------------|-----------------------|---------------------------------------------|
| `missing_rate_curves` | `missing_rate` | Figs 4, 5, 6          | 1 x 4 panels (MAE, Corr, Acc-7 / Acc-5 on SIMS, Acc-2), x = missing rate, one line (+-std band) per method |
| `ablation_chart`      | `missing_rate` | Figs 7, 8, 9, 11      | 1 x n metric panels; variants as lines over the missing rate (`kind='line'`) or as bars at one rate or of the AUILC (`kind='bar'`) |
| `loss_weight_heatmap` | `loss_weights` | Fig 10                | one lambda1 x lambda2 heatmap per metric over {0.5, 1.0, 1.5, 2.0}^2, best cell framed |
| `attention_maps`      | `attention`    | Fig 12                | 3 global tokens x T_m heatmap per modality (video, audio, text); a 2nd condition as a 2nd row |
| `complexity_scaling`  | `scaling`      | Table 1 (notebook 03) | measured cost vs M or T per strategy, log-log, with Table 1's orders c.f(M, T) dashed (`emtlib.paper.table1_order`) |
| `label_histograms`, `missing_view` | `overview` | Table 2 (notebook 00) | label histogram per split; removed positions of one sample per missing rate |
| `paper_vs_ours`, `bar_chart` | `bars`  | Tables 4-9            | ours next to the paper per metric; one bar per labelled value |

`style` holds what every figure shares (rc style, fixed method colors, labels, `save_figure`);
`frames` checks and normalises the input frames.

Input conventions
- `agg`: the frame of `emtlib.experiments.aggregate`: columns dataset, method, variant, rate,
  metric, mean[, std, n]; means/stds in RAW units (accuracies and F1 as fractions 0..1, MAE and
  Corr as is). Accuracies and F1 are PLOTTED IN PERCENT (x100), as in the paper. A missing or NaN
  `variant` counts as ''.
- `paper` (optional overlay, everywhere it is accepted): a DataFrame (or anything
  `pandas.DataFrame(...)` accepts, e.g. a list of dicts) with the same columns minus std/n, the
  value in `mean` (or `value`), in PAPER UNITS (accuracies already in percent). AUILC reference
  values carry `rate` NaN (or the string 'auilc'). Paper values are drawn dashed / as black
  diamonds and labelled "(paper)".
- AUILC (paper eq. 17) is the plain trapezoid `emtlib.metrics.auilc` over the rates present, on
  the seed means; on the protocol grids (0.0..1.0, 0.0..0.5) it equals Table 6/7's numbers up to
  their rounding (`emtlib.experiments.auilc_frame(official=True)` gives the rounded ones).

Errors a caller can cause (empty frame, missing columns, unknown dataset, metric, variant,
strategy or modality, bad shapes) raise `ValueError` saying what was expected and what was found.
"""
from .attention import GLOBAL_TOKEN_LABELS, attention_maps, avg_pool_time
from .bars import bar_chart, paper_vs_ours
from .loss_weights import loss_weight_heatmap, loss_weight_table
from .missing_rate import ablation_chart, missing_rate_curves
from .overview import label_histograms, missing_view
from .scaling import complexity_scaling, reference_order
from .style import (METHOD_COLORS, RESULTS_DIR, method_color, method_label, metric_label,
                    save_figure, variant_label)

__all__ = [
    "GLOBAL_TOKEN_LABELS", "METHOD_COLORS", "RESULTS_DIR", "ablation_chart", "attention_maps",
    "avg_pool_time", "bar_chart", "complexity_scaling", "label_histograms", "loss_weight_heatmap",
    "loss_weight_table", "method_color", "method_label", "metric_label", "missing_rate_curves",
    "missing_view", "paper_vs_ours", "reference_order", "save_figure", "variant_label",
]
