"""What every notebook does first: resolve its parameters into a session and say what applies;
then the grids of runs the notebooks train (`FUSION_VARIANTS`, `loss_weight_variants`, ...) and
the tables they show (`table9`, `scaling_macs`, ...), so that a notebook cell only calls emtlib.

The notebooks' `parameters` cell holds the paper's protocol by default (`profile='paper'`, real
data). The stored notebooks are papermill outputs of the demo profile on the stand-in
(`-p synthetic True -p profile demo -p results_dir results/demo`), executed from the committed
records; the test configuration replays them cache-only (EMTLIB_CACHE_ONLY=1,
emtlib.experiments), so a missing record is an error, never a silent retrain. The banner printed
by `setup` states what applies.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import product
from pathlib import Path

import numpy as np
import pandas as pd

from . import paper
from .config import BASELINES, PROFILES
from .data.schema import get_spec
from .executors import EXECUTORS, run_grid
from .experiments import RunSpec, aggregate, auilc_frame, records_frame
from .files import resolve, writable_dir
from .metrics import rate_grid

SMOKE_RATES = (0.0, 0.5)
"""Missing rates of the smoke profile (the paper's grid is `emtlib.metrics.rate_grid`; the demo
profile takes every other rate of it: 0.0, 0.2, ..., 1.0 on MOSI)."""
PAPER_SEEDS = {"incomplete": (111, 1111, 11111), "complete": (1111, 1112, 1113, 1114, 1115)}
"""Released seeds for the incomplete setting (3 runs); the complete setting's 5 runs use MMSA's
default seeds, since the paper does not give them (docs/training.md#seeds-and-determinism)."""
PROFILE_SUMMARY = {
    "paper": "the released configuration: bert-base fine-tuned, the released widths and budgets",
    "demo": "a CPU budget (docs/profiles.md): the stand-in at half size, frames pooled by 8; "
            "EMT-DLFR at d = 32 with 2 layers, the baselines at small widths; MiniLM frozen for "
            "every method, each text encoded once",
    "smoke": "plumbing only: 16 samples a split, one epoch; the numbers mean nothing",
}
"""What each profile changes, as the banner states it."""

SCALING_VALUES = {"paper": (tuple(range(2, 9)), (25, 50, 100, 200, 400, 800)),
                  "demo": ((2, 3, 4, 6, 8), (25, 50, 100, 200)),
                  "smoke": ((2, 3, 4, 6, 8), (25, 50, 100, 200))}
"""Notebook 03's numbers of modalities M and sequence lengths T, per profile (the demo's stop at
T = 200, as the smoke's: counting the MACs up to T = 800 took 100 s of every replay)."""


@dataclass(frozen=True)
class Session:
    """A notebook's resolved parameters."""

    dataset: str
    """'mosi', 'mosei' or 'sims'."""
    profile: str
    """'paper', 'demo' or 'smoke' (emtlib.config.PROFILES)."""
    synthetic: bool
    """True: the synthetic stand-in shaped like `dataset`."""
    data_root: str | None
    """The user's data root or pickle (ignored when synthetic)."""
    device: str
    """'auto', 'cpu' or 'cuda'."""
    text_encoder: str | None
    """Text encoder override (None: the profile's)."""
    results_dir: str
    """Where run records and figures go."""
    executor: str = "local"
    """Where missing runs train: 'local' (this kernel), 'processes', 'ray', 'slurm'
    (emtlib.executors), or 'none' (train nothing, show what is done)."""

    @property
    def smoke(self) -> bool:
        return self.profile == "smoke"

    def rates(self) -> tuple[float, ...]:
        """The missing rates of the protocol: 0.0..1.0 (SIMS 0.0..0.5); every other one in the
        demo profile; the smoke pair."""
        if self.smoke:
            return SMOKE_RATES
        grid = rate_grid(self.dataset)
        return tuple(grid[::2]) if self.profile == "demo" else tuple(grid)

    def seeds(self, setting: str = "incomplete") -> tuple[int, ...]:
        """Training seeds: 3 (incomplete) or 5 (complete setting); the incomplete setting's 3 in
        both settings in the demo profile; one in the smoke profile."""
        if self.smoke:
            return (111,)
        return PAPER_SEEDS["incomplete" if self.profile == "demo" else setting]

    def spec(self, method: str = "emt_dlfr", missing_rate: float = 0.0, seed: int = 111,
             variant: str = "", overrides: tuple[str, ...] = ()) -> RunSpec:
        """A run of this session, with its device and encoder applied."""
        extra = [f"train.device={self.device}"]
        if self.text_encoder:  # baselines keep their encoder in their own section
            section = "baseline" if method in BASELINES else "model"
            extra.append(f"{section}.text_encoder={self.text_encoder}")
        return RunSpec(method=method, dataset=self.dataset, missing_rate=missing_rate, seed=seed,
                       profile=self.profile, synthetic=self.synthetic, data_root=self.data_root,
                       overrides=tuple(extra) + tuple(overrides), variant=variant)

    def grid(self, variants: dict[str, tuple[str, ...]] | None = None, method="emt_dlfr",
             rates=None, setting: str = "incomplete") -> list[RunSpec]:
        """Specs for every method x variant x rate x seed (variants: label -> config overrides;
        method: one method key or several; rates: default the protocol's, or 0.0 alone in the
        complete setting)."""
        variants = variants or {"": ()}
        methods = (method,) if isinstance(method, str) else tuple(method)
        if rates is None:
            rates = (0.0,) if setting == "complete" else self.rates()
        return [self.spec(m, r, s, label, ov) for m in methods for label, ov in variants.items()
                for r in rates for s in self.seeds(setting)]

    def loss_weights(self, grid: tuple[float, ...]) -> tuple[float, ...]:
        """Figure 10's λ values: `grid` (paper profile), or its smallest and largest (demo, smoke)."""
        return tuple(grid) if self.profile == "paper" else (min(grid), max(grid))

    def fusion_scaling(self) -> "tuple[pd.DataFrame, pd.DataFrame]":
        """Notebook 03's fusion costs over M (T = 100) and over T (M = 3), `SCALING_VALUES` of the
        profile; seconds measured on the session's device in the paper profile only."""
        from .complexity import fusion_scaling
        from .runtime import resolve_device

        M_values, T_values = SCALING_VALUES[self.profile]
        device = resolve_device(self.device)
        by_M = fusion_scaling(M_values=M_values, T=100, device=device, measure_time=self.profile == "paper")
        by_T = fusion_scaling(M_values=(3,), T_values=T_values, device=device,
                              measure_time=self.profile == "paper")
        return by_M, by_T

    def load(self):
        """The session's data (`MMSAData`), validated; the stand-in is generated once and cached."""
        from .data import load_data

        return load_data(self.spec().config())

    def notebook_grid(self, notebook: str, **params) -> list[RunSpec]:
        """The grid of runs of `notebook` (a key of NOTEBOOK_GRIDS, e.g. '04_ablation_fusion')."""
        if notebook not in NOTEBOOK_GRIDS:
            raise ValueError(f"notebook grid {notebook!r}: expected one of {list(NOTEBOOK_GRIDS)}")
        return NOTEBOOK_GRIDS[notebook](self, **params)

    def run(self, specs) -> "tuple[list[dict], object]":
        """Run (or read back) every spec on the session's executor; returns the records and their
        seed aggregate. Executor 'none' trains nothing: it uses the records there are and names
        the missing ones (a sweep may be filling the results directory)."""
        records = run_grid(specs, self.results_dir, progress=not self.smoke, executor=self.executor)
        return records, aggregate(records_frame(records))

    def checkpoint_metrics(self, checkpoint: str | None, rates=None):
        """Test metrics of a trained EMT-DLFR checkpoint (the authors' or emtlib's) at each missing
        rate, one row per rate; None (with a note) when no checkpoint is given."""
        if not checkpoint:
            print("no checkpoint given: set the parameter `checkpoint` to a state dict saved by the "
                  "authors' trainer or by emtlib to score it here")
            return None
        import pandas as pd

        from .train import evaluate_checkpoint

        path = str(resolve(checkpoint))
        rows = {r: evaluate_checkpoint(path, self.spec("emt_dlfr", r).config())
                for r in (self.rates() if rates is None else rates)}
        return pd.DataFrame.from_dict(rows, orient="index").rename_axis("rate")


def setup(dataset: str = "mosi", data_root: str = "data", synthetic: bool = False,
          profile: str = "paper", device: str = "auto", text_encoder: str | None = None,
          results_dir: str = "results", executor: str = "local") -> Session:
    """Resolve a notebook's parameters, check the data is there, and print the banner.

    Relative `data_root` and `results_dir` are taken from the project root (emtlib.files), so a
    notebook means the same whatever directory papermill or Jupyter starts its kernel in.
    """
    data_root = None if data_root is None else str(resolve(data_root))
    results_dir = str(writable_dir(results_dir))  # refused now, not after training
    get_spec(dataset)  # a clear error for an unknown name
    if profile not in PROFILES:
        raise ValueError(f"profile {profile!r}: expected one of {list(PROFILES)}")
    if executor not in (*EXECUTORS, "none"):
        raise ValueError(f"executor {executor!r}: expected one of {[*EXECUTORS, 'none']}")
    s = Session(dataset, profile, bool(synthetic), data_root, device, text_encoder, results_dir,
                executor)
    _inline_figures()
    print(banner(s))
    return s


def _inline_figures() -> None:
    """In a notebook, show the Figures emtlib.plots returns (inline backend, PNG)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipykernel
        return
    ip = get_ipython()
    if ip is not None and hasattr(ip, "kernel"):
        ip.run_line_magic("matplotlib", "inline")


def banner(s: Session) -> str:
    """Dataset, data source (file and SHA-1, or synthetic), profile, device, precision, encoder.

    Cache-only (a replay of stored records), the device and precision are shown as set, not as
    this machine would resolve them: the records say what ran, and a replay prints the same lines
    on every machine."""
    from .data.mmsa import file_sha1, resolve_path
    from .experiments import cache_only
    from .runtime import resolve_device, resolve_precision

    cfg = s.spec().config()
    device = resolve_device(s.device)
    resolved = not cache_only()
    if s.synthetic:
        source = f"synthetic stand-in shaped like {s.dataset.upper()} (emtlib.data.synthetic, " \
                 f"scale {cfg.data.synthetic_scale:g}, seed {cfg.data.synthetic_seed})"
    else:
        path = resolve_path(Path(s.data_root), s.dataset)  # fails at once when absent
        source = f"{path} (SHA-1 {file_sha1(path)})"
    lines = [
        f"dataset:      {s.dataset}",
        f"data:         {source}",
        f"profile:      {s.profile}: {PROFILE_SUMMARY[s.profile]}",
        f"device:       {s.device}" + (f" -> {device.type}" if resolved else ""),
        f"precision:    {cfg.train.precision}"
        + (f" -> {resolve_precision(cfg.train.precision, device)}" if resolved else ""),
        "records:      " + ("replayed from stored records (cache-only)" if not resolved
                             else "stored ones read back, missing ones trained"),
        f"text encoder: {cfg.model.text_encoder}",  # EMT's; baselines name theirs in their config
        f"rates:        {', '.join(f'{r:.1f}' for r in s.rates())}; seeds {s.seeds()}",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------- what the notebooks run


def compared_methods(setting: str) -> tuple[str, ...]:
    """The seven baselines and EMT (complete setting, Tables 4-5) or EMT-DLFR (incomplete, 6-7)."""
    ours = {"complete": "emt", "incomplete": "emt_dlfr"}[setting]
    return (*BASELINES, ours)


FUSION_VARIANTS: dict[str, tuple[str, ...]] = {
    "ooll": ("model.fusion=ooll",), "oall": ("model.fusion=oall",),
    "oall-serial": ("model.fusion=oall", "model.update=serial"),
    "oagl": ("model.fusion=oagl",), "oagl-serial": ("model.fusion=oagl", "model.update=serial")}
"""Figure 7 (paper 5.2.1): the three fusion strategies, OALL and OAGL also with serial updates."""

SHARING_FLAGS = ("mpu_share", "modality_share", "layer_share")
"""Table 9's three sharing levels (paper 3.3.4), in its column order."""


def sharing_label(mpu: bool, modality: bool, layer: bool) -> str:
    """The variant label of one sharing combination, e.g. 'mpu=1,mod=0,layer=1'."""
    return f"mpu={mpu:d},mod={modality:d},layer={layer:d}"


SHARING_VARIANTS: dict[str, tuple[str, ...]] = {
    sharing_label(*flags): tuple(f"model.{k}={v}" for k, v in zip(SHARING_FLAGS, flags))
    for flags in product((False, True), repeat=3)}
"""Table 9: the eight combinations of MPU, modality and layer sharing."""

POOLING_VARIANTS: dict[str, tuple[str, ...]] = {
    p: (f"model.pooling={p}",) for p in ("attention", "average", "mlp")}
"""Figure 8 (paper 5.2.3): attention pooling (eq. 9), average pooling, an MLP."""

DLFR_VARIANTS: dict[str, tuple[str, ...]] = {
    "emt": ("loss.lambda_recon=0", "loss.lambda_attr=0"),
    "emt-llfr": ("loss.lambda_attr=0",),
    "emt-hlfr": ("loss.lambda_recon=0",),
    "emt-dlfr": ()}
"""Figure 9 (paper 5.2.4): no restoration, low-level only (λ2 = 0), high-level only (λ1 = 0), both."""

ATTRACTION_VARIANTS: dict[str, tuple[str, ...]] = {
    "simsiam": ("loss.attraction=simsiam",), "cosine": ("loss.attraction=cosine",)}
"""Figure 11 (paper 5.2.6): SimSiam (eqs. 13-14) or a plain negative cosine similarity."""


def loss_weight_variants(weights: tuple[float, ...]) -> dict[str, tuple[str, ...]]:
    """Figure 10: every (λ1, λ2) in weights², labelled 'l1=<λ1>,l2=<λ2>' as `plots.loss_weight_table` reads."""
    return {f"l1={a},l2={b}": (f"loss.lambda_recon={a}", f"loss.lambda_attr={b}")
            for a in weights for b in weights}


LAMBDA_GRID = (0.5, 1.0, 1.5, 2.0)
"""Figure 10's λ1 and λ2 values (paper 5.2.5)."""


def _grid_08(S: "Session", lambda_grid: tuple[float, ...] = LAMBDA_GRID) -> list[RunSpec]:
    return S.grid(loss_weight_variants(S.loss_weights(lambda_grid)))


NOTEBOOK_GRIDS = {
    "01_complete_setting": lambda S: S.grid(method=compared_methods("complete"), setting="complete"),
    "02_incomplete_setting": lambda S: S.grid(method=compared_methods("incomplete")),
    "04_ablation_fusion": lambda S: S.grid(FUSION_VARIANTS),
    "05_ablation_sharing": lambda S: S.grid(SHARING_VARIANTS),
    "06_ablation_pooling": lambda S: S.grid(POOLING_VARIANTS),
    "07_ablation_dlfr": lambda S: S.grid(DLFR_VARIANTS) + S.grid(method="tfr_net"),
    "08_loss_weights": _grid_08,
    "09_simsiam": lambda S: S.grid(ATTRACTION_VARIANTS),
}
"""Each notebook's grid of runs, as a function of its session: what the notebook trains and what
`emtlib sweep --grid <name>` trains for it (notebook 10 trains one checkpointed model itself)."""


# --------------------------------------------------------------------------- what the notebooks show


def seed_means(agg: pd.DataFrame, method: str, rate: float = 0.0, variant: str = "") -> pd.Series:
    """One method's seed means at one missing rate, metric -> mean (from `experiments.aggregate`)."""
    sel = agg[(agg["method"] == method) & (agg["variant"] == variant)
              & np.isclose(agg["rate"].to_numpy(float), rate)]
    if sel.empty:
        raise KeyError(f"no rows for method={method!r}, variant={variant!r} at rate {rate}")
    if sel["metric"].duplicated().any():
        raise ValueError(f"{method!r}: several rows per metric (several datasets?); select one")
    return sel.set_index("metric")["mean"]


def scaling_macs(scaling: pd.DataFrame, x: str) -> pd.DataFrame:
    """Fusion MACs in millions, `x` ('M' or 'T') x strategy, from `complexity.fusion_scaling`."""
    return scaling.pivot(index=x, columns="strategy", values="macs").div(1e6).round(1)


def sharing_params(params: pd.DataFrame) -> pd.Series:
    """Inference parameters (M) per sharing combination, labelled ✓ shared / ✗ not for MPU,
    modality and layer (from `complexity.sharing_table`)."""
    marks = ["".join("✓" if row[k] else "✗" for k in SHARING_FLAGS) for _, row in params.iterrows()]
    return pd.Series(params["params_M"].to_numpy(float), index=marks, name="params_M")


def table9(params: pd.DataFrame, agg: pd.DataFrame) -> pd.DataFrame:
    """Our Table 9 in the paper's rows (`paper.wide('table9')`): inference parameters (M) from
    `complexity.sharing_table` and the AUILC of MAE and Corr (paper units) of `SHARING_VARIANTS`."""
    auilcs = auilc_frame(agg).set_index(["variant", "metric"])["auilc"]
    if auilcs.index.has_duplicates:
        raise ValueError("agg: several rows per variant and metric (several datasets or methods?)")
    by_flags = params.set_index(list(SHARING_FLAGS))["params_M"]
    index = paper.wide("table9").index
    rows = [[float(by_flags.loc[flags])]
            + [float(auilcs.get((sharing_label(*flags), m), math.nan)) for m in ("mae", "corr")]
            for flags in index]
    return pd.DataFrame(rows, index=index, columns=pd.Index(["params_m", "mae", "corr"], name="metric"))


def figure10_table(values: pd.DataFrame) -> pd.DataFrame:
    """Figure 10's values as rows (λ1, λ2) x metrics (from `plots.loss_weight_table`), rounded."""
    return values.pivot(index=["lambda_recon", "lambda_attr"], columns="metric",
                        values="value").round(3)


# --------------------------------------------------------------------------- the claims ledger

LOWER_IS_BETTER = frozenset({"mae"})


def paired_verdict(diffs, kind: str = "beats", alpha: float = 0.05) -> str:
    """Verdict on a claim from per-seed differences (> 0: in the claim's direction), by a
    two-sided paired t-test over seeds: 'holds' or 'reversed' when the mean difference is
    significant at `alpha`, else 'within noise' (for a 'matches' claim, 'holds (within noise)')."""
    from scipy import stats

    d = np.asarray(diffs, dtype=float)
    if len(d) < 2 or not np.isfinite(d).all():
        return "too few seeds"
    sd = d.std(ddof=1)
    if sd == 0:
        p = 0.0 if d.mean() != 0 else 1.0
    else:
        p = 2 * stats.t.sf(abs(d.mean()) / (sd / math.sqrt(len(d))), len(d) - 1)
    if p < alpha:
        return "holds" if d.mean() > 0 else "reversed"
    return "holds (within noise)" if kind == "matches" else "within noise"


def _per_seed(frame: pd.DataFrame, arm: tuple[str, str], claim) -> pd.Series:
    """seed -> the claim's value for one (method, variant): the AUILC of the metric over the
    rates present (incomplete setting) or the metric at rate 0 (complete setting)."""
    from .metrics import auilc

    method, variant = arm
    sel = frame[(frame["method"] == method) & (frame["variant"] == variant)
                & (frame["metric"] == claim.metric)]
    if sel.empty:
        raise KeyError(f"no records of {method!r} variant {variant!r} for claim {claim.text!r}")
    if claim.setting == "complete":
        return sel[np.isclose(sel["rate"], 0.0)].set_index("seed")["value"].sort_index()
    sel = sel.sort_values(["seed", "rate"])
    return sel.groupby("seed").apply(lambda g: auilc(g["rate"].to_numpy(), g["value"].to_numpy()),
                                     include_groups=False)


def claims_table(records, notebook: str, dataset: str = "mosi") -> pd.DataFrame:
    """The paper's claims for `notebook` (emtlib.paper.claims) next to ours: each arm's mean ± std
    over seeds (AUILC over the rates, or the metric at rate 0 in the complete setting), and a
    verdict from the paired comparison over seeds (`paired_verdict`), never typed by hand."""
    frame = records_frame(records)
    rows = []
    for c in paper.claims(notebook, dataset):
        a, b = _per_seed(frame, c.better, c), _per_seed(frame, c.worse, c)
        seeds = a.index.intersection(b.index)
        sign = -1.0 if c.metric in LOWER_IS_BETTER else 1.0
        diffs = sign * (a[seeds] - b[seeds])
        what = "AUILC of " if c.setting == "incomplete" else ""
        rows.append({"claim": c.text, "paper": c.paper,
                     "ours": f"{what}{c.metric.upper() if c.metric == 'mae' else c.metric}: "
                             f"{a.mean():.3f} ± {a.std(ddof=0):.3f} vs {b.mean():.3f} ± {b.std(ddof=0):.3f}",
                     "seeds": len(seeds), "verdict": paired_verdict(diffs.to_numpy(), c.kind)})
    return pd.DataFrame(rows).set_index("claim")
