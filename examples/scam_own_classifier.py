"""Plug SCAM and SCAM+ into your own classifiers (tutorial "Plug SCAM / SCAM+ into your own
classifiers").

SCAM needs two things from each classifier: its class maps (the map before global average
pooling, one channel per class) and its logits. Any network that ends in
:class:`scamlib.CAMHead` (a 1x1 convolution to C classes, then global average pooling) has both.
This script:

1. builds two classifiers of your own: a four-layer CNN and a torchvision ResNet-18 cut after
   its second stage (output stride 8), each ending in ``scamlib.CAMHead``;
2. trains them on the video tags of the built-in synthetic set (multi-label soft margin loss,
   STANet+ Eq. 7): tags only, no fixations;
3. wraps each in a multi-granularity version (S+-style, STANet+ Sec. 4): its class maps of the
   target frame and of two short-term neighbour frames are blended by
   ``scamlib.ConservativeGCN``, and fine-tunes those briefly;
4. fuses the CAMs (Eq. 1) of the two classifiers with ``scamlib.SCAM`` (Eq. 2) and of all four
   with ``scamlib.SCAMPlus`` (Eq. 8) on held-out clips;
5. scores every map against the set's ground-truth fixation density (CC, higher is better)
   and draws one frame as a comparison grid.

Run::

    python examples/scam_own_classifier.py --out runs/scam_own          # about 3 min on a CPU
    python examples/scam_own_classifier.py --out runs/scam_own --tiny   # seconds: a smoke test

With ``--tiny`` the nets barely train, so the numbers mean nothing; the default settings show
SCAM doing better than either classifier's CAM alone.
"""

from __future__ import annotations

import argparse
import copy
import math
from pathlib import Path

import numpy as np
import torch
import torchvision
from torch import Tensor, nn
from torch.utils.data import DataLoader

import scamlib
import scamlib.functional as SF
from scamlib.data import AVE, MultiGranularity
from scamlib.data.synthetic import SyntheticConfig, generate
from scamlib.losses import msm_loss
from scamlib.metrics import cc


# ---- 1. your classifiers: anything that returns (logits, class_maps) -----------------------
class SmallCNN(nn.Module):
    """Four 3x3 convolutions (output stride 8) and a CAM head: ``(b,3,H,W) -> (b,C), (b,C,h,w)``."""

    def __init__(self, num_classes: int, width: int = 32) -> None:
        super().__init__()

        def block(c_in: int, c_out: int, stride: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
            )

        self.features = nn.Sequential(
            block(3, width, 2), block(width, 2 * width, 2), block(2 * width, 4 * width, 2),
            block(4 * width, 4 * width, 1),
        )  # fmt: skip
        self.head = scamlib.CAMHead(4 * width, num_classes)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.head(self.features(x))


class ResNetCut(nn.Module):
    """torchvision ResNet-18 up to ``layer2`` (stride 8, 128 channels) and a CAM head."""

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        r = torchvision.models.resnet18(weights=None)  # or weights="DEFAULT" when online
        self.features = nn.Sequential(r.conv1, r.bn1, r.relu, r.maxpool, r.layer1, r.layer2)
        self.head = scamlib.CAMHead(128, num_classes)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.head(self.features(x))


# ---- 3. a multi-granularity version of any such classifier ---------------------------------
class WithNeighbours(nn.Module):
    """S+-style wrapper (STANet+ Sec. 4): the classifier's class maps of the target
    frame and of ``n`` other frames are the nodes of a conservative GCN (Eqs. 9-14); the
    target's blended maps are its class maps, their global average its logits.

    Shapes: ``frames (b, 3, H, W)``, ``mg_frames (b, n, 3, H, W)`` -> ``(b, C)``, ``(b, C, h, w)``.
    """

    def __init__(self, classifier: nn.Module, num_classes: int, steps: int = 2) -> None:
        super().__init__()
        self.classifier = classifier
        self.gcn = scamlib.ConservativeGCN(num_classes, steps=steps)

    def forward(self, frames: Tensor, mg_frames: Tensor) -> tuple[Tensor, Tensor]:
        b, n = mg_frames.shape[:2]
        _, maps = self.classifier(torch.cat([frames, mg_frames.flatten(0, 1)]))
        target, _mg = self.gcn(maps[:b], maps[b:].unflatten(0, (b, n)))
        return target.mean(dim=(2, 3)), target


# ---- helpers ----------------------------------------------------------------------------------
def one_hot(tags: Tensor, num_classes: int) -> Tensor:
    return nn.functional.one_hot(tags, num_classes).float()


def train(model: nn.Module, loader: DataLoader, steps: int, num_classes: int, mg: bool) -> None:
    """Adam on the multi-label soft margin loss (Eq. 7) for ``steps`` steps."""
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    done = 0
    while done < steps:
        for batch in loader:
            frames = batch["frames"][:, 0]  # clip_len=1: (b, 1, 3, H, W) -> (b, 3, H, W)
            logits, _ = model(frames, batch["mg_frames"]) if mg else model(frames)
            loss = msm_loss(logits, one_hot(batch["tag"], num_classes))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            done += 1
            if done == steps:
                break
    model.eval()


def ground_truth(root: Path, row: int, frame_index: int, size: tuple[int, int]) -> Tensor:
    """The synthetic set's fixation density of a frame, resized to ``size``: ``(h, w)``."""
    with np.load(root / "AVE_Dataset" / "ground_truth" / f"{row:05d}.npz") as gt:
        density = torch.from_numpy(gt["density"][frame_index - 1])
    return nn.functional.interpolate(density[None, None], size=size, mode="bilinear")[0, 0]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("runs/scam_own"), help="output folder")
    parser.add_argument("--tiny", action="store_true", help="tiny data and 2 steps (smoke test)")
    parser.add_argument("--steps", type=int, default=None, help="training steps per classifier")
    parser.add_argument("--seed", type=int, default=0, help="seed of data and initialisation")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = parse_args(argv)
    torch.manual_seed(args.seed)
    if args.tiny:
        config = SyntheticConfig(
            num_categories=2, num_train=2, num_val=0, num_test=1, seconds=1, height=32, width=32,
            num_test_videos=1, test_seconds=1,
        )  # fmt: skip
        size, steps, batch_size = 32, args.steps or 2, 4
    else:
        config = SyntheticConfig(
            num_categories=3, num_train=24, num_val=0, num_test=6, seconds=2, height=64, width=64
        )
        size, steps, batch_size = 64, args.steps or 150, 16

    # the built-in set: tagged clips in the AVE layout, with ground-truth fixations on the side
    data = generate(args.out / "data", config, seed=args.seed)
    train_set = AVE(data.root, split="train", size=size, clip_len=1)
    test_set = AVE(data.root, split="test", size=size, clip_len=1, return_raw=True)
    c = train_set.num_classes
    print(f"{len(train_set)} training frames, {len(test_set)} test frames, {c} classes")

    # 2. train the two classifiers on tags
    nets = {"cnn": SmallCNN(c), "resnet": ResNetCut(c)}
    loader = DataLoader(train_set, batch_size=batch_size, shuffle=True)
    for name, net in nets.items():
        train(net, loader, steps, c, mg=False)
        print(f"trained {name} for {steps} steps")

    # 3. their multi-granularity versions: each frame with 2 neighbours within +-4 frames
    mg_train = MultiGranularity(train_set, kind="short", net="s", n=2, seed=args.seed)
    mg_nets = {f"{k}+short": WithNeighbours(copy.deepcopy(v), c) for k, v in nets.items()}
    mg_loader = DataLoader(mg_train, batch_size=batch_size, shuffle=True)
    for name, net in mg_nets.items():
        train(net, mg_loader, max(1, steps // 3), c, mg=True)
        print(f"fine-tuned {name}")

    # 4. SCAM over the two classifiers, SCAM+ over all four (modules over named outputs)
    scam = scamlib.SCAM(sources=tuple(nets), size=size)
    scam_plus = scamlib.SCAMPlus(base_sources=tuple(nets), mg_sources=tuple(mg_nets), size=size)
    mg_test = MultiGranularity(test_set, kind="short", net="s", n=2, seed=args.seed)
    scores: dict[str, list[Tensor]] = {}
    example = None
    with torch.no_grad():
        for batch in DataLoader(mg_test, batch_size=32):
            frames, tags = batch["frames"][:, 0], batch["tag"]
            outputs = {name: net(frames) for name, net in nets.items()}
            outputs.update({n: net(frames, batch["mg_frames"]) for n, net in mg_nets.items()})
            fused = scam({k: outputs[k] for k in nets}, tags)
            fused_plus = scam_plus(outputs, tags)
            gt = torch.stack(
                [
                    ground_truth(data.root, int(r), int(k), (size, size))
                    for r, k in zip(batch["row"], batch["frame_index"])
                ]
            )
            maps = {f"CAM {k}": SF.cam(outputs[k][1], tags, size) for k in nets}
            maps.update({"SCAM": fused.map, "SCAM+": fused_plus.map})
            valid = fused.valid  # some classifier ranks the tag first (Eq. 3); SCAM+ too then
            if not valid.any():
                continue
            for name, m in maps.items():
                scores.setdefault(name, []).append(cc(m[valid], gt[valid]))
            if example is None:
                i = int(valid.nonzero()[0])
                example = (batch["raw"][i], {k: m[i] for k, m in maps.items()}, gt[i])

    # 5. how close to where people look (synthetic ground truth): mean CC over the valid frames
    results: dict[str, float] = {}
    if not scores:
        print("no test frame is classified as its tag by either net: train longer (--steps)")
        return results
    print("\nmean CC with the ground-truth fixation density (frames where SCAM is valid):")
    for name, values in scores.items():
        flat = torch.cat(values)  # NaN where a map is constant: left out
        flat = flat[~flat.isnan()]
        results[name] = float(flat.mean()) if len(flat) else math.nan
        print(f"  {name:<12} {results[name]: .3f}   ({len(flat)} frames)")
    if example is not None:
        frame, maps, gt = example
        path = args.out / "scam_own.png"
        scamlib.viz.comparison_grid(frame, {**maps, "ground truth": gt}, path=path)
        print(f"\nwrote {path}")
    return results


if __name__ == "__main__":
    main()
