"""The audio switch (STANet+ Sec. 4): its labels from audio-only tag nets, then the switch.

A frame's switch label says whether its sound carries its event: the out-of-fold prediction of
an audio-only tag classifier (:class:`AudioTagNet`) agrees with the tag. Two such nets are
trained on the rows of one parity and label the rows of the other, so no label comes from a net
that saw the row; the switch is then trained on those labels.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch
from torch import Tensor, nn

from scamlib.losses import msm_loss, switch_loss
from scamlib.models import run_batch
from scamlib.models.audio import SpectrogramEncoder
from scamlib.nn import switch_labels

from ..datasets import training_set
from ..distributed import barrier
from ..io import atomic_path
from ..runner import Context
from .common import fit_net, ground_truth, net, rows, seed

__all__ = ["AUDIO_EPOCHS_FACTOR", "AudioTagNet", "run_switch"]

#: The audio tag nets of the switch labels train for this many times the switch's epochs.
AUDIO_EPOCHS_FACTOR = 5


class AudioTagNet(nn.Module):
    """Audio-only tag classifier: the label source of the switch when no audio classifier is
    given (STANet+ Sec. 4). ``(b, 1, F, S)`` log-mel spectrograms -> ``(b, C)`` logits.

    Args:
        num_classes: ``C``, the event classes.
        channels: widths of the spectrogram encoder's convolution stages.

    Example:
        >>> AudioTagNet(4)(torch.zeros(2, 1, 64, 96)).shape
        torch.Size([2, 4])
    """

    def __init__(self, num_classes: int, channels=(16, 32, 64)) -> None:
        super().__init__()
        self.encoder = SpectrogramEncoder(channels)
        self.fc = nn.Linear(self.encoder.out_dim, num_classes)

    def forward(self, spec: Tensor) -> Tensor:
        return self.fc(self.encoder(spec))


class _Labelled(torch.utils.data.Dataset):
    """Items ``indices`` of ``base`` with switch labels; or, given ``audio_only`` (the
    spectrograms of all items of ``base``), only their audio and tag."""

    def __init__(
        self, base, indices: list[int], labels: Tensor | None = None, audio_only=None
    ) -> None:
        self.base, self.indices, self.labels, self.audio_only = base, indices, labels, audio_only

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> dict:
        index = self.indices[i]
        if self.audio_only is not None:
            return {"audio": self.audio_only[index], "tag": self.base.tag_of(index)}
        item = self.base[index]
        if self.labels is not None:
            item["switch_label"] = self.labels[i]
        return item


def _switch_labels(ctx: Context, ds) -> Tensor:
    """Out-of-fold predictions of two audio tag nets (rows split by parity), as 0/1 labels."""
    by_row = rows(ds)
    folds = [[r for j, r in enumerate(sorted(by_row)) if j % 2 == f] for f in (0, 1)]
    bank = torch.stack([ds.audio(i) for i in range(len(ds))])  # computed once, reused per epoch
    labels = torch.zeros(len(ds))
    for f in (0, 1):
        train_idx = [i for r in folds[1 - f] for i in by_row[r]]
        predict_idx = [i for r in folds[f] for i in by_row[r]]
        if not train_idx or not predict_idx:
            labels[predict_idx] = 1.0
            continue
        seed(ctx, f"init:switch:audio{f}")
        model = AudioTagNet(ds.num_classes)

        def step(m, batch):
            return msm_loss(m(batch["audio"]), batch["tag"])

        # audio only: cheap, so it trains for several times the switch's epochs
        tcfg = replace(ctx.cfg.switch, epochs=AUDIO_EPOCHS_FACTOR * ctx.cfg.switch.epochs)
        train = _Labelled(ds, train_idx, audio_only=bank)
        fit_net(ctx, model, train, step, tcfg, "switch", f"audio{f}")
        model.eval()
        loader = torch.utils.data.DataLoader(
            _Labelled(ds, predict_idx, audio_only=bank), batch_size=ctx.cfg.switch.batch_size
        )
        preds = []
        with torch.inference_mode():
            for batch in loader:
                preds.append(model(batch["audio"].to(ctx.env.device)).argmax(-1).cpu())
        tags = torch.tensor([ds.tag_of(i) for i in predict_idx])
        labels[predict_idx] = switch_labels(torch.cat(preds), tags)
    return labels


def _audio_matches(ctx: Context, ds) -> Tensor | None:
    truth = torch.zeros(len(ds))
    for row, indices in rows(ds).items():
        gt = ground_truth(ctx, row)
        if gt is None:
            return None
        truth[indices] = float(bool(gt["audio_matches"]))
    return truth


def run_switch(ctx: Context) -> dict:
    """Switch labels (written once to ``work/switch_labels.pt``), then the switch itself."""
    ds = training_set(ctx, ctx.cfg.switch.image_size)
    labels_path = ctx.path("work", "switch_labels.pt")
    if labels_path.is_file():
        labels = torch.load(labels_path, weights_only=True)
    else:
        labels = _switch_labels(ctx, ds)
        if ctx.env.is_main:
            with atomic_path(labels_path) as tmp:
                torch.save(labels, tmp)
        barrier(ctx.env)
    seed(ctx, "init:switch:switch")
    model = net(ctx, "audio_switch")

    def step(m, batch):
        return switch_loss(run_batch(m, batch).logit, batch["switch_label"])

    data = _Labelled(ds, list(range(len(ds))), labels)
    summary = fit_net(ctx, model, data, step, ctx.cfg.switch, "switch", "audio_switch")
    result: dict[str, Any] = {
        "positive_labels": round(float(labels.mean()), 4),
        "final_loss": summary["loss"][-1],
    }
    truth = _audio_matches(ctx, ds)
    if truth is not None:
        result["label_agreement_with_truth"] = round(float((labels == truth).float().mean()), 4)
    return result
