"""EMT-DLFR (paper section 3, docs/model.md): encoders, projections, EMT, prediction head,
SimSiam projector/predictor (high-level attraction) and reconstruction heads (low-level).

Forward contract, `model(batch, return_attention=False) -> dict`:

    'pred_m'     (B,)  the primary prediction, scored by the task loss and by the metrics:
                       the incomplete view (text_m, audio_m, vision_m) for method 'emt_dlfr';
                       the complete view (text, audio, vision) for method 'emt' (complete setting).
    'pred'       (B,)  complete-view prediction; only when the complete view runs (emt_dlfr, lambda_attr > 0).
    'attraction' dict  only when lambda_attr > 0, key -> tensors for key in (gmc, text, audio, video):
                       simsiam: {'p_m', 'z_m', 'p', 'z'}  p = q(p(h)), z = p(h).detach(), per view;
                       cosine:  {'h_m', 'h'}               the raw representations of both views.
    'recon'      dict  only when lambda_recon > 0, modality -> {'pred', 'target', 'mask'}:
                       pred (B, T, D) = r(Z_m) of the incomplete view; target the complete view
                       (text: BERT output at positions 1..L-1, detached; audio/video: raw
                       features cropped to the longest length in the batch); mask (B, T) bool
                       True at masked valid positions.
    'attention'  dict  only when asked (OAGL): modality -> list over layers of (B, heads, 3, T_m),
                       the G <- local cross-attention of the primary view (docs/model.md#attention-maps);
    'attention_complete'  the same for the complete view, when it runs.

The complete view runs only when lambda_attr > 0; with lambda_attr = 0 and lambda_recon > 0 only
BERT runs on the complete text (no grad) to give the text reconstruction target. Heads of a term
whose lambda is 0 are not built and never executed.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from emtlib.config import LossConfig, ModelConfig, TrainConfig

from .emt import EMT
from .layers import AuViSubNet, Dropout, length_to_mask, use_dropout_kernel
from .text_encoder import (TextFeatureCache, packed_text_forward, text_encoder_config,
                           use_text_dropout_kernel)

ATTRACTION_KEYS = ("gmc", "text", "audio", "video")


@dataclass
class ViewOutput:
    """Everything one forward pass over one view produces."""

    pred: torch.Tensor  # (B,)
    h_text: torch.Tensor  # (B, H_t) BERT CLS, unprojected
    h_audio: torch.Tensor  # (B, audio_out)
    h_video: torch.Tensor  # (B, video_out)
    g: torch.Tensor  # (B, 3d)
    text_seq: torch.Tensor  # (B, L-1, H_t) BERT output without CLS
    Z: list  # final local sequences [(B, T_m, d)]
    masks: list  # valid masks [(B, T_m) bool]
    attention: dict | None


def projection(width: int, d: int) -> nn.Module:
    """A modality's projection to d: bias-free Linear(width, d); the identity when width == d, as
    released."""
    return nn.Identity() if width == d else nn.Linear(width, d, bias=False)


def identity_projections(cfg: ModelConfig) -> tuple[str, ...]:
    """The modalities whose projection is the identity: their width already equals d_model."""
    widths = {"text": text_encoder_config(cfg.text_encoder).hidden_size, "audio": cfg.audio_out,
              "video": cfg.video_out}
    return tuple(m for m, w in widths.items() if w == cfg.d_model)


def simsiam_projector(n: int) -> nn.Sequential:
    """p(.): Linear(n, n) -> BatchNorm1d(n, affine=False), no activation (docs/model.md#simsiam)."""
    return nn.Sequential(nn.Linear(n, n), nn.BatchNorm1d(n, affine=False))


def simsiam_predictor(n: int, hidden: int) -> nn.Sequential:
    """q(.): Linear(n, hidden, no bias) -> BatchNorm1d -> ReLU -> Linear(hidden, n) (docs/model.md#simsiam)."""
    return nn.Sequential(nn.Linear(n, hidden, bias=False), nn.BatchNorm1d(hidden),
                         nn.ReLU(inplace=True), nn.Linear(hidden, n))


class EMTDLFR(nn.Module):
    """The full model. `method='emt'` runs the complete view only (complete setting)."""

    def __init__(self, cfg: ModelConfig, loss: LossConfig, method: str, text_encoder: nn.Module,
                 text_cache_name: str | None = None):
        """text_cache_name: with `cfg.freeze_text`, a name under which runs of this process share
        the encoded text rows (only for an encoder whose weights every run loads alike)."""
        super().__init__()
        if method not in ("emt_dlfr", "emt"):
            raise ValueError(f"method {method!r}: expected 'emt_dlfr' or 'emt'")
        self.cfg, self.method = cfg, method
        self.complete_setting = method == "emt"
        self.use_complete_view = not self.complete_setting and loss.lambda_attr > 0
        self.use_recon = not self.complete_setting and loss.lambda_recon > 0
        self.attraction = loss.attraction
        d = cfg.d_model
        self.text_model = text_encoder
        self.text_cache = None
        if cfg.freeze_text:  # no fine-tuning, no dropout: encode each distinct row once per run
            text_encoder.requires_grad_(False)
            self.text_cache = TextFeatureCache(text_encoder, cfg.text_len, text_cache_name)
        elif cfg.text_checkpointing:  # recompute BERT's activations in backward (training only)
            text_encoder.activation_checkpointing_enable(
                activation_checkpointing_kwargs={"use_reentrant": False})
        t_dim = text_encoder.config.hidden_size  # 768 for bert-base, 384 for MiniLM
        self.text_dim = t_dim
        self.audio_model = AuViSubNet(cfg.audio_dim, cfg.a_lstm_hidden, cfg.audio_out,
                                      cfg.a_lstm_layers, cfg.a_lstm_dropout, cfg.lstm_kernel)
        self.video_model = AuViSubNet(cfg.vision_dim, cfg.v_lstm_hidden, cfg.video_out,
                                      cfg.v_lstm_layers, cfg.v_lstm_dropout, cfg.lstm_kernel)
        # one projection per modality, shared by sequence and utterance vector; the identity where
        # the width is already d, e.g. SIMS video: video_out = d_model = 32 (docs/model.md#projections)
        self.proj_text = projection(t_dim, d)
        self.proj_audio = projection(cfg.audio_out, d)
        self.proj_video = projection(cfg.video_out, d)
        self.fusion = EMT(cfg)
        head_in = t_dim + cfg.audio_out + cfg.video_out + 3 * d  # [h_l | h_a | h_v | g] (docs/model.md#prediction-head)
        P = cfg.post_fusion_dim
        self.post_fusion = nn.Sequential(
            Dropout(cfg.post_fusion_dropout), nn.Linear(head_in, P), nn.ReLU(inplace=True),
            nn.Linear(P, P), nn.ReLU(inplace=True), nn.Linear(P, 1))
        if self.use_complete_view and self.attraction == "simsiam":
            dims = {"gmc": (3 * d, cfg.gmc_pred_dim), "text": (t_dim, cfg.text_pred_dim),
                    "audio": (cfg.audio_out, cfg.audio_pred_dim),
                    "video": (cfg.video_out, cfg.video_pred_dim)}
            self.projector = nn.ModuleDict({k: simsiam_projector(n) for k, (n, _) in dims.items()})
            self.predictor = nn.ModuleDict({k: simsiam_predictor(n, h) for k, (n, h) in dims.items()})
        if self.use_recon:  # r(.) is one Linear (docs/model.md#reconstruction-heads)
            self.recon_text = nn.Linear(d, t_dim)
            self.recon_audio = nn.Linear(d, cfg.audio_dim)
            self.recon_video = nn.Linear(d, cfg.vision_dim)
        # every dropout with the configured kernel, BERT's too (docs/model.md#dropout-kernels)
        use_text_dropout_kernel(self.text_model, cfg.dropout_kernel)
        use_dropout_kernel(self, cfg.dropout_kernel)

    def train(self, mode: bool = True):
        super().train(mode)
        if self.text_cache is not None:
            self.text_model.eval()  # a frozen encoder never drops out
        return self

    # ---- one view ---------------------------------------------------------------------------
    def _text(self, text: torch.Tensor) -> torch.Tensor:
        # text (B, 3, L): ids, attention mask, segment ids
        if self.text_cache is not None:
            return self.text_cache(text)  # (B, L, H_t)
        if self.cfg.text_packing:
            return packed_text_forward(self.text_model, text)  # (B, L, H_t), 0 at padding
        out = self.text_model(input_ids=text[:, 0], attention_mask=text[:, 1],
                              token_type_ids=text[:, 2])
        return out.last_hidden_state  # (B, L, H_t)

    def encode_view(self, text, audio, audio_lengths, vision, vision_lengths,
                    return_attention: bool = False) -> ViewOutput:
        """Encoders -> projections -> EMT -> prediction, for one view."""
        hid = self._text(text)  # (B, L, H_t)
        h_t, H_t = hid[:, 0], hid[:, 1:]  # CLS (B, H_t); local sequence (B, L-1, H_t)
        t_mask = length_to_mask(text[:, 1].sum(1) - 2, H_t.shape[1])  # words only: no SEP/PAD
        T_a, T_v = int(audio_lengths.max()), int(vision_lengths.max())
        h_a, H_a = self.audio_model(audio[:, :T_a], audio_lengths)  # (B, 16), (B, T_a, 16)
        h_v, H_v = self.video_model(vision[:, :T_v], vision_lengths)  # (B, 32), (B, T_v, 32)
        a_mask = length_to_mask(audio_lengths, T_a)
        v_mask = length_to_mask(vision_lengths, T_v)
        G0 = torch.stack([self.proj_text(h_t), self.proj_audio(h_a), self.proj_video(h_v)], dim=1)  # (B, 3, d)
        seqs = [self.proj_text(H_t), self.proj_audio(H_a), self.proj_video(H_v)]  # (B, T_m, d)
        masks = [t_mask, a_mask, v_mask]
        fo = self.fusion(G0, seqs, masks, return_attention)
        pred = self.post_fusion(torch.cat([h_t, h_a, h_v, fo.g], dim=-1)).squeeze(-1)  # (B,)
        return ViewOutput(pred=pred, h_text=h_t, h_audio=h_a, h_video=h_v, g=fo.g, text_seq=H_t,
                          Z=fo.Z, masks=masks, attention=fo.attention)

    def _view(self, batch: dict, complete: bool, return_attention: bool) -> ViewOutput:
        s = "" if complete else "_m"
        return self.encode_view(batch["text" + s], batch["audio" + s], batch["audio_lengths"],
                                batch["vision" + s], batch["vision_lengths"], return_attention)

    # ---- forward -----------------------------------------------------------------------------
    def forward(self, batch: dict, return_attention: bool = False) -> dict:
        if self.complete_setting:
            view = self._view(batch, complete=True, return_attention=return_attention)
            out = {"pred_m": view.pred}
            if return_attention:
                out["attention"] = view.attention
            return out
        if self.training and self.use_complete_view and self.attraction == "simsiam" \
                and batch["text_m"].shape[0] < 2:
            raise ValueError("a training batch of one sample cannot pass the SimSiam BatchNorms; "
                             "use batch_size >= 2 and avoid a trailing batch of one")
        comp = self._view(batch, True, return_attention) if self.use_complete_view else None
        prim = self._view(batch, False, return_attention)  # the incomplete view
        out = {"pred_m": prim.pred}
        if comp is not None:
            out["pred"] = comp.pred
            out["attraction"] = self._attraction(prim, comp)
        if self.use_recon:
            out["recon"] = self._reconstruction(batch, prim, comp)
        if return_attention:
            out["attention"] = prim.attention
            if comp is not None:
                out["attention_complete"] = comp.attention
        return out

    def _attraction(self, prim: ViewOutput, comp: ViewOutput) -> dict:
        pairs = {"gmc": (prim.g, comp.g), "text": (prim.h_text, comp.h_text),
                 "audio": (prim.h_audio, comp.h_audio), "video": (prim.h_video, comp.h_video)}
        if self.attraction == "cosine":  # paper 5.2.6: no projector/predictor
            return {k: {"h_m": hm, "h": h} for k, (hm, h) in pairs.items()}
        res = {}
        for k, (hm, h) in pairs.items():
            zp = self.projector[k](h)  # complete view, its own BatchNorm statistics
            zp_m = self.projector[k](hm)  # incomplete view
            res[k] = {"p": self.predictor[k](zp), "z": zp.detach(),  # stop-gradient (eq. 13)
                      "p_m": self.predictor[k](zp_m), "z_m": zp_m.detach()}
        return res

    def _reconstruction(self, batch: dict, prim: ViewOutput, comp: ViewOutput | None) -> dict:
        if comp is not None:
            t_target = comp.text_seq.detach()  # (B, L-1, H_t)
        else:  # lambda_attr = 0: only BERT on the complete text gives the target
            with torch.no_grad():
                t_target = self._text(batch["text"])[:, 1:]
        text, kept = batch["text"], batch["text_kept"]
        t_mask = text[:, 1, 1:].bool() & ~kept[:, 1:].bool()  # masked word tokens (B, L-1)
        out = {"text": {"pred": self.recon_text(prim.Z[0]), "target": t_target, "mask": t_mask}}
        for name, key, head, Z, valid in (("audio", "audio", self.recon_audio, prim.Z[1], prim.masks[1]),
                                          ("video", "vision", self.recon_video, prim.Z[2], prim.masks[2])):
            T = Z.shape[1]
            mask = valid & ~batch[f"{key}_kept"][:, :T].bool()  # masked valid frames (B, T)
            out[name] = {"pred": head(Z), "target": batch[key][:, :T], "mask": mask}
        return out

    # ---- optimiser groups --------------------------------------------------------------------
    def parameter_groups(self, train: TrainConfig) -> list[dict]:
        """The five Adam groups of the release (docs/training.md#optimizer): BERT decay / no-decay, audio, video, other."""
        no_decay = ("bias", "LayerNorm.bias", "LayerNorm.weight")
        bert = list(self.text_model.named_parameters())
        groups = [
            {"name": "bert_decay", "params": [p for n, p in bert if not any(k in n for k in no_decay)],
             "lr": train.lr_bert, "weight_decay": train.wd_bert},
            {"name": "bert_no_decay", "params": [p for n, p in bert if any(k in n for k in no_decay)],
             "lr": train.lr_bert, "weight_decay": 0.0},
            {"name": "audio", "params": list(self.audio_model.parameters()),
             "lr": train.lr_audio, "weight_decay": train.wd_audio},
            {"name": "video", "params": list(self.video_model.parameters()),
             "lr": train.lr_video, "weight_decay": train.wd_video},
        ]
        seen = {id(p) for g in groups for p in g["params"]}
        groups.append({"name": "other", "params": [p for p in self.parameters() if id(p) not in seen],
                       "lr": train.lr_other, "weight_decay": train.wd_other})
        return groups
