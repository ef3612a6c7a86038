"""Paper Table 8 on this machine: OAGL vs OOLL vs OALL on CMU-MOSI shapes.

For each fusion strategy (the released MOSI configuration otherwise, random-weight bert-base):
inference parameters, fusion MACs (one sample, one view, full lengths 49/375/500), the time of
one training step (both views, all DLFR losses, backward, Adam step) on a random batch, the
implied seconds per MOSI epoch, and peak memory (CUDA: max allocated; CPU: peak RSS of the
process). Each strategy runs in its own fresh process so the memory peaks do not mix.

`--with-baselines` adds Table 8's reference rows, MulT and TFR-Net (their paper MOSI
configurations through `paper_config(method=...)` and `build_model`, random-weight bert-base):
inference parameters (TFR-Net without its reconstruction generators, as the paper counts), the
time of one training step through the method's own procedure (forward on the incomplete view,
its training loss incl. TFR-Net's generation loss, backward, clipping, Adam step; no
accumulation) on the same random batch, and peak memory. Off by default (TFR-Net fine-tunes BERT
twice per step at full lengths: tens of seconds a step on a CPU).

    python benchmarks/table8_fusion.py                      # CPU default: batch 2, full lengths
    python benchmarks/table8_fusion.py --with-baselines --fusions oagl   # MulT, TFR-Net next to OAGL
    python benchmarks/table8_fusion.py --device cuda --batch-size 32 --steps 5
    python benchmarks/table8_fusion.py --lengths 50 100 100 # shorter (more realistic) batches
    python benchmarks/table8_fusion.py --amp --set model.fusion_layers=2   # config overrides
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PAPER = {  # Table 8: MACs (G), #Params (M), training time (s / epoch, V100, bs 32), GPU memory (GB)
    "ooll": (3.1, 110.5, 17.1, 17.8),
    "oall": (8.3, 110.5, 21.2, 31.5),
    "oagl": (1.5, 110.5, 15.4, 10.8),
    "mult": (float("nan"), 111.0, 17.5, 17.8),  # reference rows ("MuT" in the paper)
    "tfr_net": (float("nan"), 124.3, 24.8, 16.9),
}
BASELINE_ROWS = ("mult", "tfr_net")


def measure(fusion: str, args: dict) -> dict:
    if fusion in BASELINE_ROWS:
        return measure_baseline(fusion, args)
    import torch

    from emtlib.complexity import (count_parameters, fusion_macs, peak_memory, random_batch,
                                   seconds_per_epoch, time_train_steps)
    from emtlib.config import apply_overrides, paper_config
    from emtlib.data.schema import get_spec
    from emtlib.models import build_model

    if args["threads"]:
        torch.set_num_threads(args["threads"])
    device = torch.device(args["device"])
    cfg = apply_overrides(paper_config("mosi"), [*args["overrides"], f"model.fusion={fusion}"])
    macs = fusion_macs(cfg)
    model = build_model(cfg, pretrained_text=False).to(device)
    params = count_parameters(model)
    batch = random_batch(cfg.model, batch_size=args["batch_size"], missing_rate=0.5,
                         lengths=args["lengths"], device=device)

    def run():
        ctx = torch.autocast(device.type, dtype=torch.bfloat16) if args["amp"] else _null()
        with ctx:
            return time_train_steps(model, batch, cfg.loss, steps=args["steps"], warmup=args["warmup"])

    step, peak = peak_memory(run, device)
    n_train = get_spec("mosi").split_sizes[0]
    return {"fusion": fusion, "macs_g": macs / 1e9, "params_m": params / 1e6, "step_s": step,
            "epoch_s": seconds_per_epoch(step, n_train, args["batch_size"]), "peak_gb": peak / 1e9}


def measure_baseline(method: str, args: dict) -> dict:
    """A reference row: parameters and training step of MulT / TFR-Net on the same random batch."""
    import torch

    from emtlib.complexity import (count_parameters, peak_memory, random_batch, seconds_per_epoch,
                                   time_baseline_train_steps)
    from emtlib.config import paper_config
    from emtlib.data.schema import get_spec
    from emtlib.models import build_model

    if args["threads"]:
        torch.set_num_threads(args["threads"])
    device = torch.device(args["device"])
    cfg = paper_config("mosi", method=method)
    model = build_model(cfg, pretrained_text=False).to(device)
    params = count_parameters(model)  # inference only
    batch = random_batch(paper_config("mosi").model, batch_size=args["batch_size"], missing_rate=0.5,
                         lengths=args["lengths"], device=device)

    def run():
        ctx = torch.autocast(device.type, dtype=torch.bfloat16) if args["amp"] else _null()
        with ctx:
            return time_baseline_train_steps(model, batch, cfg, steps=args["steps"],
                                             warmup=args["warmup"])

    step, peak = peak_memory(run, device)
    n_train = get_spec("mosi").split_sizes[0]
    return {"fusion": method, "macs_g": float("nan"), "params_m": params / 1e6, "step_s": step,
            "epoch_s": seconds_per_epoch(step, n_train, args["batch_size"]), "peak_gb": peak / 1e9}


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def _child(fusion, args, q):
    q.put(measure(fusion, args))


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--batch-size", type=int, default=None, help="default 32 on CUDA (as the paper), 2 on CPU")
    p.add_argument("--steps", type=int, default=None, help="timed steps (default 5 on CUDA, 1 on CPU)")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--lengths", type=int, nargs=3, default=None, metavar=("TEXT", "AUDIO", "VISION"),
                   help="tokens incl. CLS/SEP, audio frames, vision frames of every sample "
                        "(default the padded MOSI maxima 50 375 500)")
    p.add_argument("--fusions", nargs="+", default=["oagl", "ooll", "oall"])
    p.add_argument("--with-baselines", action="store_true",
                   help="add the reference rows MulT and TFR-Net (paper Table 8)")
    p.add_argument("--amp", action="store_true", help="bf16 autocast")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads in each child (0 = default)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="config override for the fusion rows, e.g. model.attention=fused (repeatable; "
                        "not applied to the baseline rows)")
    a = p.parse_args(argv)
    import torch

    device = "cuda" if a.device == "auto" and torch.cuda.is_available() else ("cpu" if a.device == "auto" else a.device)
    cuda = device.startswith("cuda")
    args = dict(device=device, batch_size=a.batch_size or (32 if cuda else 2),
                steps=a.steps or (5 if cuda else 1), warmup=a.warmup,
                lengths=tuple(a.lengths) if a.lengths else None, amp=a.amp, threads=a.threads,
                overrides=list(a.set))
    print(f"device={device} batch_size={args['batch_size']} steps={args['steps']} "
          f"lengths={args['lengths'] or (50, 375, 500)} amp={a.amp}"
          + (f" overrides={' '.join(a.set)}" if a.set else ""), flush=True)
    ctx = mp.get_context("spawn")
    rows = []
    for f in list(a.fusions) + (list(BASELINE_ROWS) if a.with_baselines else []):
        q = ctx.Queue()
        proc = ctx.Process(target=_child, args=(f, args, q))
        proc.start()
        rows.append(q.get())
        proc.join()
    mem = "GPU mem (GB)" if cuda else "peak RSS (GB)"
    head = f"{'fusion':7s} | {'MACs (G)':>17s} | {'#Params (M)':>20s} | {'step (s)':>8s} | " \
           f"{'epoch (s)':>19s} | {mem:>18s}"
    print(head)
    print("-" * len(head))
    for r in rows:
        pm, pp, pt, pg = PAPER.get(r["fusion"], (float("nan"),) * 4)
        macs = f"{'-':>5s} (paper   -)" if r["fusion"] in BASELINE_ROWS else \
            f"{r['macs_g']:5.2f} (paper {pm:3.1f})"
        print(f"{r['fusion']:7s} | {macs} | {r['params_m']:6.1f} (paper {pp:5.1f}) | "
              f"{r['step_s']:8.2f} | {r['epoch_s']:6.1f} (paper {pt:4.1f}) | {r['peak_gb']:5.2f} (paper {pg:4.1f})")
    base = next((r for r in rows if r["fusion"] == "oagl"), None)
    if base:
        print("MACs relative to OAGL: " + ", ".join(
            f"{r['fusion']} {r['macs_g'] / base['macs_g']:.2f}x (paper {PAPER[r['fusion']][0] / 1.5:.2f}x)"
            for r in rows if r["fusion"] in PAPER and r["fusion"] not in BASELINE_ROWS))
    print("MACs = FlopCounterMode FLOPs / 2 of the fusion module only, one sample, one view; "
          "epoch time = step time x ceil(1284 / batch size); paper: V100, batch 32.")
    if a.with_baselines:
        print("mult / tfr_net: the paper's reference rows (MuT, TFR-Net); parameters exclude TFR-Net's "
              "reconstruction generators; one step = the method's own procedure, no accumulation.")
    return rows


if __name__ == "__main__":
    main()
