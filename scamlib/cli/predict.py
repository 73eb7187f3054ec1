"""``scamlib predict``: fixation maps for your own video with trained students."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from ._common import (
    UsageError,
    add_command,
    check_out_dir,
    positive_float,
    positive_int,
    replaced_folder,
    say,
    show_progress,
)

HELP = "predict fixation maps for your own video with trained students"

DESCRIPTION = """\
Predict fixation maps for every frame of your own video with trained student networks (STA,
STA+ short, STA+ long), and draw them over the video.

VIDEO is a video file with sound (.mp4 or any format FFmpeg reads), sampled at --fps, or a
folder of frame images (img_00001.jpg, ... or any names; sorted by name) with an optional
.wav file (then --fps is the rate the frames were taken at).

--checkpoint is a student checkpoint (.safetensors written by scamlib.inference.save_student),
a folder holding sta.safetensors / sta_short.safetensors / sta_long.safetensors, or the output
folder of 'scamlib reproduce' (its students are in checkpoints/students/).

Writes into --out:
  <variant>/img_00001.png ...   one 8-bit grey map per frame, at the frame's size, for every
                                variant: the students given (sta, sta_short, sta_long) and,
                                when all three are there, pf_final (STANet+ Eq. 21) and
                                pf_agg (Eq. 23)
  <video>_<variant>.mp4         the maps of one variant over the frames, with the original
                                sound: pf_final when all three students are given, else the
                                STA+ long, STA+ short or STA student (see --variant)
  prediction.json               what was run: video, frames, fps, students, files

--out is replaced as a whole: the new maps are written into a hidden folder beside it and
swapped in when every file is written, so --out never mixes two runs (no maps of an earlier,
longer video are left behind) and a killed run leaves the previous --out as it was. A folder
that holds other files (no prediction.json) is refused, never deleted."""

EPILOG = """\
examples:
  scamlib predict clip.mp4 --checkpoint runs/quick --out pred/clip
  scamlib predict clip.mp4 --checkpoint sta.safetensors --out pred/clip --fps 10 --no-video
  scamlib predict frames/ --audio clip.wav --fps 25 --checkpoint students/ --out pred/f

A video without a sound track is predicted with silence (all-zero audio input), with a
warning: the STA nets were trained with sound, so expect weaker maps."""

#: The file that marks a folder as a ``scamlib predict`` output (written last).
MARKER = "prediction.json"


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``predict`` to the subparsers ``sub``."""
    from scamlib.pipeline.reproduce import device_type

    p = add_command(
        sub, "predict", help=HELP, description=DESCRIPTION, epilog=EPILOG
    )
    p.add_argument("video", metavar="VIDEO", help="video file, or folder of frames (+ .wav)")
    p.add_argument(
        "--checkpoint",
        "-c",
        required=True,
        metavar="CKPT",
        help="student .safetensors file, folder of students, or 'scamlib reproduce' output",
    )
    p.add_argument(
        "--out", "-o", required=True, metavar="DIR", help="output folder (replaced as a whole)"
    )
    p.add_argument(
        "--fps",
        type=positive_float,
        default=None,
        help="frame rate to sample a video file at (default 8, as the pipeline samples AVE); "
        "for a folder of frames: the rate they were taken at (required with sound)",
    )
    p.add_argument(
        "--audio", metavar="WAV", default=None, help="sound file to use instead of the video's"
    )
    p.add_argument(
        "--device",
        default="auto",
        type=device_type,
        help="where the networks run: auto (CUDA when available), cpu, cuda, cuda:1, ...",
    )
    p.add_argument(
        "--precision",
        choices=("auto", "fp32", "bf16", "fp16"),
        default="auto",
        help="arithmetic of the forward passes: auto (bf16 autocast + channels_last on CUDA, "
        "fp32 elsewhere), fp32, bf16, fp16; bf16 moves a student's maps by ~3e-3 (default auto)",
    )
    p.add_argument(
        "--batch-size",
        type=positive_int,
        default=8,
        metavar="N",
        help="frames per forward pass (default 8)",
    )
    p.add_argument(
        "--variant",
        choices=("sta", "sta_short", "sta_long", "pf_final", "pf_agg"),
        default=None,
        help="variant drawn in the MP4 (default: pf_final when all three students are given)",
    )
    p.add_argument("--no-video", action="store_true", help="write the PNG maps only, no MP4")
    p.add_argument(
        "--seed", type=int, default=0, metavar="N", help="seed of the STA+ multi-granularity draws"
    )
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bars, less output")
    p.set_defaults(handler=run)
    return p


def _frames_uint8(dataset, indices):
    import numpy as np
    import torch

    return np.stack(
        [
            (dataset.raw_frame(i) * 255.0).round_().to(torch.uint8).permute(1, 2, 0).numpy()
            for i in indices
        ]
    )


def run(args: argparse.Namespace) -> int:
    """Run ``scamlib predict``; returns the exit status."""
    from scamlib._device import resolve_device
    from scamlib._fs import remove_tree, write_json
    from scamlib.data import video_dataset, video_wav_path
    from scamlib.data.audio import load_waveform, wav_duration
    from scamlib.inference import Predictor, write_maps
    from scamlib.models import best_variant, load_students, student_info_dict
    from scamlib.viz import write_saliency_video

    video_path = Path(args.video)
    if not video_path.exists():
        raise FileNotFoundError(f"video not found: {video_path}")
    if args.audio is not None and not Path(args.audio).is_file():
        raise FileNotFoundError(f"audio file not found: {args.audio}")
    device = resolve_device(args.device)
    students = load_students(args.checkpoint, device)
    predictor = Predictor(
        students,
        seed=args.seed,
        batch_size=args.batch_size,
        device=device,
        progress=show_progress(args),
        precision=args.precision,
    )
    if args.variant is not None and args.variant not in predictor.variants:
        raise UsageError(
            f"--variant {args.variant}: not available with the students in {args.checkpoint} "
            f"(available: {', '.join(predictor.variants)}; pf_final and pf_agg need all three "
            "of sta, sta_short and sta_long)"
        )
    out = Path(args.out)
    check_out_dir(out)
    start = time.perf_counter()
    with replaced_folder(out, owned=MARKER) as tmp:
        work = tmp / ".work"  # the decoded video: inside the new folder, removed before the swap
        dataset = video_dataset(
            video_path, work, fps=args.fps, audio=args.audio, **predictor.dataset_kwargs
        )
        video = dataset.videos[0]
        fps = dataset.entries[video].fps
        indices = dataset.frames_of(video)
        h, w = dataset.frame_size(indices[0])
        wav = video_wav_path(dataset, video)
        seconds = wav_duration(wav)
        sound = f"{seconds:.1f} s of sound" if seconds else "no sound"
        say(
            args,
            f"{video}: {len(indices)} frames at {fps:g} fps, {w}x{h} px, {sound}; students "
            f"{', '.join(predictor.students)} at {predictor.image_size} px on {device}",
        )
        maps = predictor.predict_video(dataset, video)
        frame_numbers = [dataset.frame_index(i) for i in indices]
        folders = write_maps(maps, tmp, frame_numbers)
        files: dict[str, Any] = {v: str(out / f.relative_to(tmp)) for v, f in folders.items()}
        shown = args.variant or best_variant(list(maps))
        if not args.no_video:
            audio, rate = (None, None)
            if seconds > 0:
                wave, rate = load_waveform(wav, sample_rate=None)
                audio = wave.numpy()
            name = f"{video}_{shown}.mp4"
            write_saliency_video(
                _frames_uint8(dataset, indices), maps[shown], tmp / name, fps, audio=audio,
                sample_rate=rate,
            )  # fmt: skip
            files["video"] = str(out / name)
        remove_tree(work)
        summary = {
            "video": str(video_path),
            "name": video,
            "frames": len(indices),
            "fps": fps,
            "frame_size": [h, w],
            "sound_seconds": seconds,
            "device": str(device),
            "precision": args.precision,
            "autocast": None if predictor.autocast_dtype is None else str(predictor.autocast_dtype),
            "seed": args.seed,
            "variants": list(maps),
            "video_variant": None if args.no_video else shown,
            "students": {
                v: student_info_dict(info) for v, (_m, info) in predictor.students.items()
            },
            "files": files,
            "wall_time_s": round(time.perf_counter() - start, 3),
        }
        write_json(tmp / MARKER, summary)
    say(args, f"maps:  {out}/<variant>/img_%05d.png for {', '.join(maps)}")
    if not args.no_video:
        say(args, f"video: {files['video']} ({shown} over the frames, with the sound)")
    say(args, f"done in {summary['wall_time_s']:.1f} s; details in {out / MARKER}")
    return 0
