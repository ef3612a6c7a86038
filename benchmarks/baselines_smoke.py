"""The seven baselines at the CPU learning budget: parameters, smoke-run test metrics, epoch time.

For each baseline: inference parameters of the paper configuration on MOSI (random bert-base,
`count_parameters(model, inference_only=True)`), then `fit` on the synthetic MOSI stand-in at the
budget `emtlib.config.baselines.LEARNING_BUDGETS` (MiniLM text encoder, the method's procedure), on a stand-in
twice the learning test's (`--scale`, default 0.25: 321 training samples), at each missing rate:
test MAE and Corr of the incomplete-view prediction, the label-mean predictor's MAE for
comparison, and CPU seconds per training epoch.

    python benchmarks/baselines_smoke.py                         # all seven, rates 0.0 and 0.5
    python benchmarks/baselines_smoke.py --methods tfn mult --rates 0.0
    python benchmarks/baselines_smoke.py --threads 2 --json out.json

One torch thread by default: on a shared 2-core machine more threads are slower. The default run
takes about 10 minutes (7 methods x 2 rates).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


SCALE = 0.25
"""Stand-in scale of the table (321 / 57 / 172 samples): at the learning test's 0.125, TFN, MISA
and MMIM do not beat the label mean at missing rate 0.5 in their 2-3 epochs; at 0.25 all do."""


def inference_parameters(method: str, dataset: str = "mosi") -> int:
    """Inference parameters of the paper configuration (random-weight text encoder)."""
    from emtlib.complexity import count_parameters
    from emtlib.config import paper_config
    from emtlib.models import build_model

    return count_parameters(build_model(paper_config(dataset, method=method), pretrained_text=False),
                            inference_only=True)


def label_mean_mae(data) -> float:
    """Test MAE of predicting the training labels' mean."""
    y, y_train = data.splits["test"]["regression_labels"], data.splits["train"]["regression_labels"]
    return float(abs(y - y_train.mean()).mean())


def smoke_run(method: str, rate: float, dataset: str = "mosi", extra: list[str] | None = None) -> dict:
    """fit at the learning budget; the numbers of one table cell."""
    import warnings

    from emtlib.config import apply_overrides, smoke_config
    from emtlib.config import learning_overrides
    from emtlib.procedures import TASK_LOSS_TERM
    from emtlib.data import load_data
    from emtlib.train import fit

    cfg = apply_overrides(smoke_config(dataset, method=method, missing_rate=rate),
                          learning_overrides(method) + list(extra or []))
    data = load_data(cfg)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*last batch of one sample.*")
        r = fit(cfg, data=data).record
    h, term = r["history"], TASK_LOSS_TERM[method]
    return {"method": method, "rate": rate, "mae": r["metrics"]["mae"], "corr": r["metrics"]["corr"],
            "label_mean_mae": label_mean_mae(data), "epochs": r["epochs"],
            "epoch_s": sum(r["train_epoch_s"]) / len(r["train_epoch_s"]), "wall_s": r["wall_time_s"],
            "task_term": term, "train_task_first": h[0]["train"][term],
            "train_task_last": h[-1]["train"][term]}


def main(argv=None) -> list[dict]:
    from emtlib.config import BASELINES

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--methods", nargs="+", default=list(BASELINES), choices=list(BASELINES))
    p.add_argument("--rates", nargs="+", type=float, default=[0.0, 0.5])
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    p.add_argument("--scale", type=float, default=SCALE,
                   help=f"synthetic stand-in scale (default {SCALE}; the learning test uses 0.125)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="extra config override for every run (repeatable)")
    p.add_argument("--no-params", action="store_true", help="skip the bert-base parameter counts")
    p.add_argument("--json", type=Path, help="also write the rows as JSON")
    a = p.parse_args(argv)
    import torch

    torch.set_num_threads(a.threads)
    rows = []
    for m in a.methods:
        params = None if a.no_params else inference_parameters(m)
        for rate in a.rates:
            t0 = time.perf_counter()
            r = smoke_run(m, rate, extra=[f"data.synthetic_scale={a.scale}"] + a.set)
            r["params"] = params
            rows.append(r)
            print(f"[{m} rate {rate}: MAE {r['mae']:.3f} (label mean {r['label_mean_mae']:.3f}) "
                  f"corr {r['corr']:.3f}, {r['epoch_s']:.1f} s/epoch, train {r['task_term']} "
                  f"{r['train_task_first']:.3f} -> {r['train_task_last']:.3f}; "
                  f"{time.perf_counter() - t0:.0f} s]", file=sys.stderr, flush=True)
    head = (f"{'method':8s} | {'#Params (M)':>11s} | {'rate':>4s} | {'MAE':>6s} | {'label-mean':>10s} | "
            f"{'Corr':>6s} | {'s/epoch':>7s} | {'train task loss first -> last':>29s}")
    print(head)
    print("-" * len(head))
    for r in rows:
        pm = f"{r['params'] / 1e6:11.1f}" if r["params"] is not None else f"{'-':>11s}"
        print(f"{r['method']:8s} | {pm} | {r['rate']:4.1f} | {r['mae']:6.3f} | {r['label_mean_mae']:10.3f} | "
              f"{r['corr']:6.3f} | {r['epoch_s']:7.1f} | {r['task_term']:>7s} {r['train_task_first']:8.3f} -> "
              f"{r['train_task_last']:8.3f}")
    print("Params: paper configuration on MOSI, random bert-base, inference only. Metrics: fit on the "
          f"synthetic MOSI stand-in (scale {a.scale:g}) at emtlib.config.baselines.LEARNING_BUDGETS (MiniLM), test split, "
          "incomplete view.")
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1))
    return rows


if __name__ == "__main__":
    main()
