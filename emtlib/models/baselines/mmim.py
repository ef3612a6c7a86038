"""MMIM: MultiModal InfoMax (Han et al., EMNLP 2021), as run by MMSA.

Sources read (docs/baselines.md#mmim): MMSA `src/MMSA/models/singleTask/MMIM.py` (model, MMILB, CPC)
and `src/MMSA/trains/singleTask/MMIM.py` (two stages, optimizers, memory). Written from those facts;
no code was copied.

Model (incomplete view `text_m`, `audio_m`, `vision_m`; see
docs/baselines.md#protocol-in-the-incomplete-setting):
    t = BERT(text_m)[CLS]                                                      (B, H_bert)
    a = Linear([h_fwd | h_bwd] of BiLSTM(audio_m) packed by audio_lengths)      (B, d_aout)
    v = likewise for vision                                                     (B, d_vout)
    f = tanh(W2 tanh(W1 Dropout([t | a | v])));  pred = W3 f                    (B, d_prjh), (B,)
MMILB (t -> v and t -> a): mu = MLP_mu(t), logvar = MLP_logvar(t)
(Linear-ReLU-Linear, no last activation),
    lld = mean_b sum_d -(mu - y)^2 / (2 exp(logvar));
    with labels: y' = tanh(Linear(y -> y/4)), split by label > 0 / < 0; with a memory of earlier
    batches, H = 0.25 * (logdet Sigma_pos + logdet Sigma_neg) over memory + current batch (biased
    covariances).
CPC per modality m: x_hat = Linear(f -> dim_m); x, x_hat L2-normalised;
    nce = -mean_i(<x_i, x_hat_i> - logsumexp_j <x_i, x_hat_j>); the three are summed.
Training, every epoch: stage 1 (loss -lld, step the MMILB optimizer only), then stage 2
(loss L1 + alpha nce - beta lld, and - beta H once batch_index > mem_size; step the main optimizer).
Both clip the gradient norm over ALL parameters (BERT included) to 1.0 and zero_grad every batch.

Parameter split (make_optimizers): names containing 'bert' -> BERT group of the main optimizer;
names containing 'mi' -> the MMILB optimizer; the rest -> the main group. The 'mi' rule is a
substring test; in this module only the MMILB modules `mi_tv` / `mi_ta` contain 'mi' (the encoder is
`bert`, the other modules are acoustic_enc, visual_enc, cpc_z*, fusion_prj), so the rule picks
exactly the MMILB parameters, and make_optimizers checks that it did. Every non-BERT parameter with
>= 2 dims (LSTM matrices included) is re-initialised with xavier_normal_ there.

Quirks of the released code, and what `faithful_quirks` does:
1. Stage 1 on MOSEI is meant to use the first 50% of the train batches, but the rule divides by the
   length of the loader DICT (3 splits), so it stops after 2 batches. Encoded in
   emtlib.procedures.stage1_limit (faithful: 2 batches; fixed: half the batches); the step functions
   do not see it.
2. `entropy_prj` belongs to the MMILB optimizer (its name contains 'mi') but only stage 2 gives it a
   gradient, and stage 2 steps the main optimizer: it stays at its initial values (with torch >= 2
   zero_grad sets grads to None, so not even weight decay touches it). Reproduced, not switchable;
   the entropy term trains only the encoders through y.
3. The entropy H uses logdet of a 4x4 (d/4) covariance from few samples (one earlier batch + this
   one); with fewer than 5 samples in a class it is singular and H is -inf/NaN, which poisons the
   loss. faithful_quirks=True keeps it; False drops H for that batch when it is not finite.
4. The clip norm in stage 1 is computed over all parameters although only MMILB is stepped (so
   BERT's gradient shrinks the MMILB update). Reproduced.
"""
from __future__ import annotations

import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence

from emtlib.config.baselines import MMIMHParams

PAIRS = ("tv", "ta")
INFERENCE_EXCLUDE = ("mi_", "cpc_")


# ------------------------------------------------------------------------------------------ bounds
def lld_gaussian(mu: torch.Tensor, logvar: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Gaussian log-likelihood lower bound without constants: mean_b sum_d -(mu - y)^2 / (2 exp(logvar))."""
    return (-(mu - y) ** 2 / 2.0 / torch.exp(logvar)).sum(-1).mean()


def cpc_nce(x: torch.Tensor, x_pred: torch.Tensor) -> torch.Tensor:
    """InfoNCE with in-batch negatives after L2 normalisation: -mean(<x,x^> - logsumexp_j <x, x^_j>)."""
    x_pred = x_pred / x_pred.norm(dim=1, keepdim=True)  # (B, D)
    x = x / x.norm(dim=1, keepdim=True)  # (B, D)
    pos = (x * x_pred).sum(-1)  # (B,)
    neg = torch.logsumexp(x @ x_pred.t(), dim=-1)  # (B, B) -> (B,)
    return -(pos - neg).mean()


def gaussian_entropy(pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    """0.25 * (logdet Sigma_pos + logdet Sigma_neg), Sigma = mean of centred outer products, (N, d) inputs."""
    def logdet_cov(x: torch.Tensor) -> torch.Tensor:
        c = x - x.mean(dim=0)  # (N, d)
        sigma = (c.unsqueeze(-1) @ c.unsqueeze(1)).mean(dim=0)  # (N, d, d) -> (d, d)
        return torch.logdet(sigma)
    return 0.25 * (logdet_cov(pos) + logdet_cov(neg))


lld = lld_gaussian  # short names used in the docs / brief
cpc = cpc_nce


class MMILB(nn.Module):
    """Modality mutual-information lower bound for one pair x -> y, with the entropy estimate."""

    def __init__(self, x_size: int, y_size: int):
        super().__init__()
        self.mlp_mu = nn.Sequential(nn.Linear(x_size, y_size), nn.ReLU(), nn.Linear(y_size, y_size))
        self.mlp_logvar = nn.Sequential(nn.Linear(x_size, y_size), nn.ReLU(), nn.Linear(y_size, y_size))
        self.entropy_prj = nn.Sequential(nn.Linear(y_size, y_size // 4), nn.Tanh())

    def forward(self, x: torch.Tensor, y: torch.Tensor, labels: torch.Tensor | None = None,
                mem: dict | None = None) -> tuple[torch.Tensor, dict, torch.Tensor | float]:
        """-> (lld, {'pos': (n+, d/4) | None, 'neg': ...}, H (0.0 unless labels and memory are given))."""
        lld = lld_gaussian(self.mlp_mu(x), self.mlp_logvar(x), y)
        samples: dict = {"pos": None, "neg": None}
        H: torch.Tensor | float = 0.0
        if labels is not None:
            yp = self.entropy_prj(y)  # (B, d/4)
            lab = labels.reshape(-1)
            samples = {"pos": yp[lab > 0], "neg": yp[lab < 0]}
            if mem is not None and mem.get("pos") is not None:
                H = gaussian_entropy(torch.cat(list(mem["pos"]) + [samples["pos"]], dim=0),
                                     torch.cat(list(mem["neg"]) + [samples["neg"]], dim=0))
        return lld, samples, H


class CPC(nn.Module):
    """Contrastive predictive coding score: predict the modality vector x from the fusion vector y."""

    def __init__(self, x_size: int, y_size: int):
        super().__init__()
        self.net = nn.Linear(y_size, x_size)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return cpc_nce(x, self.net(y))


class RNNEncoder(nn.Module):
    """(Bi)LSTM packed by the real lengths -> [h_fwd | h_bwd] -> Dropout(0) -> Linear."""

    def __init__(self, in_size: int, hidden_size: int, out_size: int, bidirectional: bool = True):
        super().__init__()
        self.bidirectional = bidirectional
        self.rnn = nn.LSTM(in_size, hidden_size, num_layers=1, bidirectional=bidirectional, batch_first=True)
        self.dropout = nn.Dropout(0.0)  # the config's 0.1 applies only to multi-layer LSTMs
        self.linear_1 = nn.Linear((2 if bidirectional else 1) * hidden_size, out_size)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, T, D), (B,) -> (B, out)."""
        packed = pack_padded_sequence(x, lengths.detach().to("cpu", torch.int64), batch_first=True,
                                      enforce_sorted=False)
        _, (h_n, _) = self.rnn(packed)  # (directions, B, hidden)
        h = torch.cat([h_n[0], h_n[1]], dim=-1) if self.bidirectional else h_n[-1]  # (B, 2 hidden)
        return self.linear_1(self.dropout(h))


class FusionNet(nn.Module):
    """Dropout -> Linear -> tanh -> Linear -> tanh (= f) -> Linear(->1)."""

    def __init__(self, in_size: int, hidden_size: int, dropout: float):
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.linear_1 = nn.Linear(in_size, hidden_size)
        self.linear_2 = nn.Linear(hidden_size, hidden_size)
        self.linear_3 = nn.Linear(hidden_size, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = torch.tanh(self.linear_2(torch.tanh(self.linear_1(self.drop(x)))))  # (B, hidden)
        return f, self.linear_3(f).squeeze(-1)  # (B, hidden), (B,)


class MMIM(nn.Module):
    """MMIM on the incomplete view. `text_encoder`: a HF BertModel-like module (fine-tuned)."""

    training_only_prefixes: tuple = INFERENCE_EXCLUDE
    """Parameters unused at inference (count_parameters): MMILB and CPC."""

    def __init__(self, preset: MMIMHParams, text_encoder: nn.Module):
        super().__init__()
        self.preset = p = preset
        self.bert = text_encoder
        t_dim = int(text_encoder.config.hidden_size)
        self.acoustic_enc = RNNEncoder(p.audio_dim, p.d_ah, p.d_aout, p.bidirectional)
        self.visual_enc = RNNEncoder(p.vision_dim, p.d_vh, p.d_vout, p.bidirectional)
        self.mi_tv = MMILB(t_dim, p.d_vout)
        self.mi_ta = MMILB(t_dim, p.d_aout)
        self.cpc_zt = CPC(t_dim, p.d_prjh)
        self.cpc_zv = CPC(p.d_vout, p.d_prjh)
        self.cpc_za = CPC(p.d_aout, p.d_prjh)
        self.fusion_prj = FusionNet(t_dim + p.d_aout + p.d_vout, p.d_prjh, p.dropout_prj)

    def forward(self, batch: dict, labels: torch.Tensor | None = None, mem: dict | None = None) -> dict:
        """`labels` (B,) turn on the pos/neg samples; `mem` ({'tv': {...}, 'ta': {...}}) the entropy H."""
        text = batch["text_m"]  # (B, 3, L)
        t = self.bert(input_ids=text[:, 0].long(), attention_mask=text[:, 1].long(),
                      token_type_ids=text[:, 2].long()).last_hidden_state[:, 0]  # (B, H_bert)
        a = self.acoustic_enc(batch["audio_m"], batch["audio_lengths"])  # (B, d_aout)
        v = self.visual_enc(batch["vision_m"], batch["vision_lengths"])  # (B, d_vout)
        mem = mem or {}
        lld_tv, pn_tv, H_tv = self.mi_tv(t, v, labels, mem.get("tv"))
        lld_ta, pn_ta, H_ta = self.mi_ta(t, a, labels, mem.get("ta"))
        f, pred = self.fusion_prj(torch.cat([t, a, v], dim=1))  # (B, t+a+v) -> (B, d_prjh), (B,)
        nce = self.cpc_zt(t, f) + self.cpc_zv(v, f) + self.cpc_za(a, f)
        return {"pred": pred, "lld": lld_tv + lld_ta, "nce": nce, "H": H_tv + H_ta,
                "pn": {"tv": pn_tv, "ta": pn_ta}, "features": {"t": t, "a": a, "v": v, "f": f}}

    def valid_loss(self, outputs: dict, batch: dict) -> torch.Tensor:
        """The validation key: L1 of the prediction."""
        return (outputs["pred"] - batch["labels"].to(outputs["pred"].dtype)).abs().mean()

    def num_parameters(self, inference: bool = True) -> int:
        """Parameters; `inference` leaves out MMILB and CPC (training-only)."""
        return sum(t.numel() for n, t in self.named_parameters()
                   if not (inference and n.startswith(INFERENCE_EXCLUDE)))


# ------------------------------------------------------------------------------------------ memory
class MMIMMemory:
    """Projected pos/neg samples of the last `mem_size` stage-2 batches; make a new one every epoch."""

    def __init__(self, mem_size: int = 1):
        self.mem_size = mem_size
        self.pos = {k: [] for k in PAIRS}
        self.neg = {k: [] for k in PAIRS}

    def view(self, batch_index: int) -> dict | None:
        """What the model sees at this batch: None before `mem_size` batches were stored."""
        if batch_index < self.mem_size:
            return None
        return {k: {"pos": self.pos[k], "neg": self.neg[k]} for k in PAIRS}

    def push(self, pn: dict, batch_index: int) -> None:
        """Store this batch's samples (detached), replacing the oldest once full."""
        for k in PAIRS:
            pos, neg = pn[k]["pos"].detach(), pn[k]["neg"].detach()
            if len(self.pos[k]) < self.mem_size:
                self.pos[k].append(pos)
                self.neg[k].append(neg)
            else:
                slot = batch_index % self.mem_size
                self.pos[k][slot], self.neg[k][slot] = pos, neg


# ------------------------------------------------------------------------------------------ training
def split_parameters(model: MMIM) -> tuple[list, list, list]:
    """(bert, mmilb, main) by the released name rule: 'bert' in name, else 'mi' in name, else main."""
    bert, mmilb, main = [], [], []
    for name, t in model.named_parameters():
        if not t.requires_grad:
            continue
        if "bert" in name:
            bert.append(t)
        elif "mi" in name:
            mmilb.append(t)
        else:
            main.append(t)
    return bert, mmilb, main


def make_optimizers(model: MMIM, preset: MMIMHParams | None = None, generator: torch.Generator | None = None):
    """-> (optimizer_mmilb, optimizer_main, scheduler); re-initialises non-BERT >= 2-dim params (xavier_normal_)."""
    p = preset or model.preset
    bert, mmilb, main = split_parameters(model)
    expected = {id(t) for m in (model.mi_tv, model.mi_ta) for t in m.parameters()}
    if {id(t) for t in mmilb} != expected:
        raise RuntimeError("the 'mi' name rule did not pick exactly the MMILB parameters; rename the "
                           "module whose parameter names contain 'mi'")
    for t in mmilb + main:
        if t.dim() > 1:
            nn.init.xavier_normal_(t, generator=generator)
    opt_mmilb = torch.optim.Adam(mmilb, lr=p.lr_mmilb, weight_decay=p.wd_mmilb)
    opt_main = torch.optim.Adam([{"params": bert, "weight_decay": p.wd_bert, "lr": p.lr_bert},
                                 {"params": main, "weight_decay": p.wd_main, "lr": p.lr_main}])
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(opt_main, mode="min", patience=p.plateau_patience,
                                                           factor=p.plateau_factor)
    return opt_mmilb, opt_main, scheduler


def stage1_loss(outputs: dict) -> torch.Tensor:
    """Stage 1: maximise the MMILB likelihood."""
    return -outputs["lld"]


def stage2_loss(outputs: dict, labels: torch.Tensor, preset: MMIMHParams, batch_index: int) -> dict:
    """Stage 2: L1 + alpha nce - beta lld, minus beta H once batch_index > mem_size."""
    task = (outputs["pred"] - labels.to(outputs["pred"].dtype)).abs().mean()
    total = task + preset.alpha * outputs["nce"] - preset.beta * outputs["lld"]
    H = outputs["H"]
    use_H = batch_index > preset.mem_size and torch.is_tensor(H)
    if use_H and not preset.faithful_quirks and not torch.isfinite(H):  # quirk 3, fixed: skip
        use_H = False
    if use_H:
        total = total - preset.beta * H
    return {"total": total, "task": task, "nce": outputs["nce"], "lld": outputs["lld"],
            "H": H if torch.is_tensor(H) else torch.tensor(float(H))}


def stage1_step(model: MMIM, batch: dict, opt_mmilb: torch.optim.Optimizer) -> dict:
    """One stage-1 batch: zero_grad, -lld, backward, clip_grad_norm_(all, grad_clip), step MMILB only."""
    model.train()
    model.zero_grad()
    out = model(batch)
    loss = stage1_loss(out)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), model.preset.grad_clip)
    opt_mmilb.step()
    return {"loss": float(loss.detach()), "lld": float(out["lld"].detach())}


def stage2_step(model: MMIM, batch: dict, opt_main: torch.optim.Optimizer, memory: MMIMMemory,
                batch_index: int) -> dict:
    """One stage-2 batch (batch_index counts from 0 in the epoch); updates `memory` after the forward."""
    model.train()
    model.zero_grad()
    labels = batch["labels"]
    out = model(batch, labels=labels, mem=memory.view(batch_index))
    memory.push(out["pn"], batch_index)
    terms = stage2_loss(out, labels, model.preset, batch_index)
    terms["total"].backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), model.preset.grad_clip)
    opt_main.step()
    return {k: float(v.detach()) for k, v in terms.items()}
