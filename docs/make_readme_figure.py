"""Draw the README's picture, ``docs/_static/readme_output.png``: SCAM on the built-in set.

Two of the papers' classification nets, S (one frame) and ST (a 3-frame clip), in the ``tiny``
preset, are trained from scratch on the *video tags* of the built-in synthetic set (no
fixations), a few hundred steps each. On held-out clips, each row of the picture shows a frame,
the two nets' class activation maps for the clip's tag (STANet+ Eq. 1), their SCAM fusion
(Eq. 2) and the ground-truth fixation density of the synthetic set. The rows are the middle
frame of the first two test clips whose SCAM is valid (no selection by quality). The mean CC
with the ground truth over all valid test frames is printed.

Run from the repository root (seeded; about 5 minutes of CPU time, most of it training ST)::

    python docs/make_readme_figure.py
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader

import scamlib
from scamlib import viz
from scamlib.data import AVE
from scamlib.data.synthetic import SyntheticConfig, generate
from scamlib.losses import msm_loss
from scamlib.metrics import cc
from scamlib.models import create

OUT = Path(__file__).resolve().parent / "_static" / "readme_output.png"
SIZE = 96  # network input side


def train(net: torch.nn.Module, loader: DataLoader, steps: int, c: int, clip: bool) -> None:
    """Adam on the multi-label soft margin loss (Eq. 7) for ``steps`` steps."""
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    step = 0
    while step < steps:
        for batch in loader:
            x = batch["frames"] if clip else batch["frames"][:, 1]
            logits, _ = net(x)
            loss = msm_loss(logits, torch.nn.functional.one_hot(batch["tag"], c).float())
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            if step == steps:
                break
    net.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=300, help="training steps per net")
    parser.add_argument("--out", type=Path, default=OUT, help="PNG to write")
    args = parser.parse_args()
    torch.manual_seed(0)
    config = SyntheticConfig(num_categories=4, num_train=32, num_val=0, num_test=8)
    with tempfile.TemporaryDirectory() as tmp:
        data = generate(tmp, config, seed=0)
        train_set = AVE(data.root, "train", size=SIZE, clip_len=3)
        test_set = AVE(data.root, "test", size=SIZE, clip_len=3, return_raw=True)
        c = train_set.num_classes
        nets = {"s": create("s", num_classes=c), "st": create("st", num_classes=c)}
        loader = DataLoader(train_set, batch_size=16, shuffle=True)
        for name, net in nets.items():
            train(net, loader, args.steps, c, clip=name == "st")
            print(f"trained {name.upper()} for {args.steps} steps")

        scam = scamlib.SCAM(sources=("s", "st"), size=(config.height, config.width))
        rows, scores, seen = [], {"CAM S": [], "CAM ST": [], "SCAM": []}, set()
        with torch.no_grad():
            for batch in DataLoader(test_set, batch_size=24):
                tags = batch["tag"]
                outputs = {"s": nets["s"](batch["frames"][:, 1]), "st": nets["st"](batch["frames"])}
                fused = scam(outputs, tags)
                cams = {"CAM S": fused.cams[:, 0], "CAM ST": fused.cams[:, 1], "SCAM": fused.map}
                gts = []
                for r, k in zip(batch["row"].tolist(), batch["frame_index"].tolist()):
                    with np.load(data.ground_truth / f"{r:05d}.npz") as gt:
                        gts.append(torch.from_numpy(gt["density"][k - 1]))
                gt = torch.stack(gts)
                valid = fused.valid
                for name, m in cams.items():
                    if valid.any():
                        scores[name].append(cc(m[valid], gt[valid].to(m.dtype)))
                for i in range(len(tags)):
                    row = int(batch["row"][i])
                    middle = config.seconds * config.fps // 2
                    if valid[i] and row not in seen and batch["frame_index"][i] == middle:
                        seen.add(row)
                        if len(rows) < 2:
                            maps = {k: m[i] for k, m in cams.items()}
                            maps["ground truth"] = gt[i]
                            rows.append(viz.comparison_grid(batch["raw"][i], maps, gap=3))
    for name, values in scores.items():
        flat = torch.cat(values)
        flat = flat[~flat.isnan()]
        print(f"mean CC with the ground truth, {name}: {float(flat.mean()):.3f} ({len(flat)})")
    if not rows:
        raise SystemExit("no valid test frame: train longer (--steps)")
    gap = np.full((4, rows[0].shape[1], 3), 255, np.uint8)
    picture = np.concatenate([rows[0], *([gap, rows[1]] if len(rows) > 1 else [])])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # a 256-colour palette keeps the PNG small (the frames' textured backgrounds compress badly)
    Image.fromarray(picture).quantize(256, dither=Image.Dither.NONE).save(args.out, optimize=True)
    print(f"wrote {args.out}: {picture.shape[1]}x{picture.shape[0]} px, "
          f"{args.out.stat().st_size / 1024:.1f} KB")  # fmt: skip


if __name__ == "__main__":
    main()
