"""What every notebook does first: resolve its parameters into a session and say what applies.

The notebooks' `parameters` cell holds the paper's protocol by default (`profile='paper'`, real
data). The test configuration sets the environment variable `EMTLIB_NOTEBOOK_PROFILE=smoke`,
which turns a session into the smoke profile on the synthetic stand-in whatever the cell says;
`papermill notebooks/X.ipynb out.ipynb -p dataset mosi` in a normal shell is untouched by it.
The banner printed by `setup` states which applies.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from .config import BASELINES
from .data.schema import get_spec
from .files import resolve
from .experiments import RunSpec, aggregate, records_frame, run_grid
from .metrics import rate_grid

PROFILE_ENV = "EMTLIB_NOTEBOOK_PROFILE"
SMOKE_RATES = (0.0, 0.5)
"""Missing rates of the smoke profile (the paper's grid is `emtlib.metrics.rate_grid`)."""
PAPER_SEEDS = {"incomplete": (111, 1111, 11111), "complete": (1111, 1112, 1113, 1114, 1115)}
"""Released seeds for the incomplete setting (3 runs); the complete setting's 5 runs use MMSA's
default seeds, since the paper does not give them (facts 4)."""


@dataclass(frozen=True)
class Session:
    """A notebook's resolved parameters."""

    dataset: str
    """'mosi', 'mosei' or 'sims'."""
    profile: str
    """'paper' or 'smoke'."""
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
    forced_by_env: bool = False
    """True when EMTLIB_NOTEBOOK_PROFILE=smoke replaced the cell's profile and data source."""

    @property
    def smoke(self) -> bool:
        return self.profile == "smoke"

    def rates(self) -> tuple[float, ...]:
        """The missing rates of the protocol: 0.0..1.0 (SIMS 0.0..0.5), or the smoke pair."""
        return SMOKE_RATES if self.smoke else rate_grid(self.dataset)

    def seeds(self, setting: str = "incomplete") -> tuple[int, ...]:
        """Training seeds: 3 (incomplete) or 5 (complete setting); one in the smoke profile."""
        return (111,) if self.smoke else PAPER_SEEDS[setting]

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
        method: one method key or several)."""
        variants = variants or {"": ()}
        methods = (method,) if isinstance(method, str) else tuple(method)
        rates = self.rates() if rates is None else rates
        return [self.spec(m, r, s, label, ov) for m in methods for label, ov in variants.items()
                for r in rates for s in self.seeds(setting)]

    def load(self):
        """The session's data (`MMSAData`), validated; the stand-in is generated once and cached."""
        from .data import load_data

        return load_data(self.spec().config())

    def run(self, specs) -> "tuple[list[dict], object]":
        """Run (or read back) every spec; returns the records and their seed aggregate."""
        records = run_grid(specs, self.results_dir, progress=not self.smoke)
        return records, aggregate(records_frame(records))


def setup(dataset: str = "mosi", data_root: str = "data", synthetic: bool = False,
          profile: str = "paper", device: str = "auto", text_encoder: str | None = None,
          results_dir: str = "results") -> Session:
    """Resolve a notebook's parameters, check the data is there, and print the banner.

    Relative `data_root` and `results_dir` are taken from the project root (emtlib.files), so a
    notebook means the same whatever directory papermill or Jupyter starts its kernel in.
    """
    data_root = None if data_root is None else str(resolve(data_root))
    results_dir = str(resolve(results_dir))
    get_spec(dataset)  # a clear error for an unknown name
    if profile not in ("paper", "smoke"):
        raise ValueError(f"profile {profile!r}: expected 'paper' or 'smoke'")
    env = os.environ.get(PROFILE_ENV, "").strip().lower()
    if env not in ("", "smoke"):
        raise ValueError(f"{PROFILE_ENV}={env!r}: the only value it takes is 'smoke'")
    s = Session(dataset, profile, bool(synthetic), data_root, device, text_encoder, results_dir)
    if env == "smoke":
        s = replace(s, profile="smoke", synthetic=True, forced_by_env=True)
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
    """Dataset, data source (file and SHA-1, or synthetic), profile, device, encoder."""
    from .data.mmsa import file_sha1, resolve_path
    from .train import resolve_device

    cfg = s.spec().config()
    if s.synthetic:
        source = f"synthetic stand-in shaped like {s.dataset.upper()} (emtlib.data.synthetic, " \
                 f"scale {cfg.data.synthetic_scale:g}, seed {cfg.data.synthetic_seed})"
    else:
        path = resolve_path(Path(s.data_root), s.dataset)  # fails at once when absent
        source = f"{path} (SHA-1 {file_sha1(path)})"
    lines = [
        f"dataset:      {s.dataset}",
        f"data:         {source}",
        f"profile:      {s.profile}"
        + (f" (forced by {PROFILE_ENV}=smoke, set by the test configuration)" if s.forced_by_env
           else ""),
        f"device:       {s.device} -> {resolve_device(s.device).type}",
        f"text encoder: {cfg.model.text_encoder}",  # EMT's; baselines name theirs in their config
        f"rates:        {', '.join(f'{r:.1f}' for r in s.rates())}; seeds {s.seeds()}",
    ]
    return "\n".join(lines)
