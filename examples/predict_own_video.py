"""Predict fixations for your own video with sound (tutorial "Predict fixations for your own
video").

The trained student networks (STA, STA+ short, STA+ long; STANet+ Sec. 5) need no tags: frames
and sound in, fixation maps out, fused by PF_final (Eq. 21). This script is what
``scamlib predict`` does, spelled out with :mod:`scamlib.inference`:

1. load the students (``load_students``: a ``.safetensors`` file, a folder of them, or the
   output folder of ``examples/reproduce_stanet_plus.py``);
2. turn the video into a one-video dataset in the STAViS layout (``video_dataset``: frames
   sampled at ``--fps``, the sound track as WAV), at the students' input size;
3. predict every frame (``Predictor.predict_video``), write the maps as PNGs
   (``write_maps``), the best map over the frames as an MP4 with the original sound
   (``scamlib.viz.write_saliency_video``) and one frame as a comparison grid.

Run::

    python examples/predict_own_video.py --video clip.mp4 --checkpoint runs/quick --out pred/clip

Without ``--checkpoint`` the script saves untrained tiny students first, and without
``--video`` it generates a short synthetic clip: ``--tiny`` runs that demonstration in seconds.
Untrained students give meaningless maps: the demonstration shows the path, not the method.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

from scamlib import viz
from scamlib.data.audio import load_waveform, wav_duration
from scamlib.data.synthetic import SyntheticConfig, generate
from scamlib.inference import (
    Predictor,
    best_variant,
    load_students,
    save_student,
    video_dataset,
    write_maps,
)
from scamlib.models import create


def demo_students(folder: Path, image_size: int) -> Path:
    """Save untrained tiny STA, STA+ short and STA+ long students into ``folder``."""
    torch.manual_seed(0)
    save_student(folder / "sta.safetensors", create("sta"), name="sta", image_size=image_size)
    for kind in ("short", "long"):
        save_student(
            folder / f"sta_{kind}.safetensors",
            create("sta+"),
            name="sta+",
            kind=kind,
            image_size=image_size,
        )
    return folder


def demo_video(folder: Path, seconds: int) -> Path:
    """A synthetic clip with sound: a moving object of the built-in set and its sound."""
    config = SyntheticConfig(
        num_categories=2, num_train=1, num_val=0, num_test=0, seconds=seconds, height=64,
        width=96, num_test_videos=1, test_seconds=1, test_datasets=("Demo",),
    )  # fmt: skip
    data = generate(folder, config)
    return next((data.ave_dir / "AVE").glob("*.mp4"))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--video", type=Path, default=None, help="video file with sound")
    parser.add_argument("--checkpoint", type=Path, default=None, help="student checkpoint(s)")
    parser.add_argument("--out", type=Path, default=Path("runs/predict_own"), help="output folder")
    parser.add_argument("--fps", type=float, default=8.0, help="frames per second to predict")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, ...")
    parser.add_argument("--tiny", action="store_true", help="demo students at 32 px (fast)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Path]:
    args = parse_args(argv)
    checkpoint = args.checkpoint or demo_students(args.out / "students", 32 if args.tiny else 64)
    video = args.video or demo_video(args.out / "demo_data", seconds=1 if args.tiny else 3)

    # 1. the students, and a predictor that runs them all and fuses their maps
    students = load_students(checkpoint, device=args.device)
    predictor = Predictor(students, device=args.device, batch_size=8)
    print(f"students {', '.join(students)} at {predictor.image_size} px -> {predictor.variants}")

    with tempfile.TemporaryDirectory() as work:
        # 2. the video as a one-video STAViS-layout dataset (frames at --fps, sound as WAV)
        dataset = video_dataset(video, work, fps=args.fps, **predictor.dataset_kwargs)
        name = dataset.videos[0]
        indices = dataset.frames_of(name)
        print(f"{video}: {len(indices)} frames of {dataset.frame_size(indices[0])} px")

        # 3. every frame's maps at the frame size: {variant: (n, h, w)} in [0, 1]
        maps = predictor.predict_video(dataset, name)
        frame_numbers = [dataset.frame_index(i) for i in indices]
        folders = write_maps(maps, args.out / "maps", frame_numbers)

        # the best variant over the frames, with the original sound
        shown = best_variant(list(maps))
        frames = torch.stack([dataset.raw_frame(i) for i in indices])  # (n, 3, h, w) in [0, 1]
        wav = Path(work) / "video_audio" / dataset.dataset / name / f"{name}.wav"
        audio, rate = (None, None)
        if wav_duration(wav) > 0:
            wave, rate = load_waveform(wav, sample_rate=None)
            audio = wave.numpy()
        mp4 = viz.write_saliency_video(
            frames, maps[shown], args.out / f"{name}_{shown}.mp4", args.fps, audio, rate
        )
        middle = len(indices) // 2
        grid = viz.comparison_grid(
            frames[middle], {v: m[middle] for v, m in maps.items()}, path=args.out / "frame.png"
        )
    print(f"maps:  {args.out / 'maps'}/<variant>/img_%05d.png ({', '.join(folders)})")
    print(f"video: {mp4} ({shown}, with the original sound)")
    print(f"frame: {args.out / 'frame.png'} ({grid.shape[1]} x {grid.shape[0]} px)")
    return {"maps": args.out / "maps", "video": mp4, "frame": args.out / "frame.png"}


if __name__ == "__main__":
    main()
