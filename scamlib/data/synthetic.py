"""A small audio-visual world with known fixations, written in the real AVE and STAViS layouts.

A clip shows one moving object of its tag, zero or more moving distractors of other
categories, and a soundtrack that is the tag's sound or, for ``mismatch_fraction`` of the
training clips, another category's sound (so an audio switch has something to learn). The
ground-truth fixation density is a Gaussian on the point of the tagged object observers look
at (its *head*), plus a weaker one on its body. Two styles:

* ``"photo"`` (the default): each category is a real photograph of a sounding object with a
  real recording (a rocket and a boom, a fist and a punch, a cup of coffee and music, an
  astronaut, a motorcycle, a cat), cut out and moving over a slowly panning scene photograph
  or texture (brick, grass, gravel, a deep-field sky, a stained tissue) that belongs to no
  category. The head is the face, the eyes, the knuckles, the cup, the rocket's body, the
  motorcycle's tank. The material comes from the installed scikit-image and pygame packages
  (list and licences in :mod:`scamlib.data._material`); at most 6 categories.
* ``"drawn"``: the first world of this library. Each category has a distinct drawn body
  (shape, colour, texture), a distinct coloured *head* patch and a synthesised sound (a
  harmonic tone, a chirp, a noise band, an amplitude-modulated tone or pulses, at a
  category-specific pitch), on a smooth noisy background; at most 8 categories. Its bodies are
  as class-specific as its heads and it has no texture or clutter, which is why some of the
  papers' orderings fail on it (see the tutorial).

:func:`generate` writes::

    root/AVE_Dataset/Annotations.txt                header line + one row per clip
    root/AVE_Dataset/{train,val,test}Set.txt        the split, same format
    root/AVE_Dataset/{train,val,test}_order.h5      the split as row indices (dataset "order")
    root/AVE_Dataset/AVE/<VideoID>.mp4              H.264 video + AAC audio at config.fps
    root/AVE_Dataset/ground_truth/<row:05d>.npz     density (N, H, W) float32 in [0, 1] for
                                                    frames 1..N, frame_index (N,), head_xy
                                                    (N, 2) pixel (x, y), tag, audio_tag,
                                                    audio_matches
    root/stavis/video_frames/<DB>/<video>/img_%05d.jpg
    root/stavis/video_audio/<DB>/<video>/<video>.wav
    root/stavis/annotations/<DB>/<video>/maps/eyeMap_%05d.jpg
    root/stavis/annotations/<DB>/<video>/fixMap_%05d.mat     (variable eyeMap, uint8 0/1)
    root/stavis/fold_lists/<DB>_list_{train,test}_{1,2,3}_fps.txt   (first test dataset)
    root/stavis/fold_lists/<DB>_list_{train,test}_fps.txt           (others: DIEM-style)

Everything is a deterministic function of ``(config, seed)`` (bit-identical files, except the
container metadata of the mp4) and, for the photo style, of the installed scikit-image and
pygame versions, which the stamp ``synthetic_config.json`` records.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from . import _material, _photo

__all__ = ["STYLES", "SyntheticConfig", "SyntheticPaths", "ave_clip", "generate", "stamp"]

#: The worlds :func:`generate` can write (see the module docstring).
STYLES = ("photo", "drawn")

_NAMES = ("Bell, chime", "Drum", "Flute", "Siren", "Whistle", "Engine", "Bird", "Horn")
_COLOURS = np.array(
    [[220, 60, 50], [50, 170, 60], [60, 90, 220], [220, 200, 40], [170, 60, 200],
     [40, 200, 200], [240, 140, 30], [150, 150, 150]], dtype=np.float32,
)  # fmt: skip
_HEADS = np.array(
    [[255, 255, 255], [0, 0, 0], [255, 0, 255], [0, 255, 0], [255, 255, 0],
     [0, 0, 255], [255, 0, 0], [0, 255, 255]], dtype=np.float32,
)  # fmt: skip


_PHOTO_NAMES = tuple(s.name for s in _material.SOURCES)

# bounds of the integer sizes: every loop of the generator runs over one of them, so a typing
# error (seconds=10**9) is refused here instead of running for days
_INT_RANGES = {
    "num_categories": (2, len(_NAMES)),
    "num_train": (1, 100_000),
    "num_val": (0, 100_000),
    "num_test": (0, 100_000),
    "seconds": (1, 60),
    "fps": (1, 120),
    "height": (16, 4096),
    "width": (16, 4096),
    "max_distractors": (0, 16),
    "sample_rate": (1000, 192_000),
    "num_test_videos": (1, 10_000),
    "test_seconds": (1, 60),
    "observers": (1, 10_000),
}


@dataclass(frozen=True)
class SyntheticConfig:
    """Size of the generated world. The defaults train a quick pipeline on CPU in minutes.

    Attributes:
        num_categories: number of classes (at most 6 photo, 8 drawn).
        num_train, num_val, num_test: AVE clips per split.
        seconds: AVE clip length; ``fps``: frame rate of every video.
        height, width: frame size (even numbers, for H.264).
        max_distractors: distractors per clip, drawn uniformly from ``0..max_distractors``.
        mismatch_fraction: share of training clips whose sound is another category's.
        sample_rate: audio rate of every file.
        test_datasets: names of the STAViS-layout test sets; the first gets three folds,
            the others a single DIEM-style split.
        num_test_videos, test_seconds: videos per test set and their length.
        observers: fixations sampled per test frame.
        style: ``"photo"`` (photographed objects, recorded sounds, scene photographs) or
            ``"drawn"`` (drawn shapes, synthesised sounds); see the module docstring.

    Every size is an int within a bound (``seconds`` and ``test_seconds`` at most 60, as the
    AVE annotation reader accepts; ``fps`` at most 120; frames at most 4096 pixels a side;
    counts at most 100000), so a typing error fails here rather than in a generator that
    would run for days. ``test_datasets`` may be given as a list (as JSON gives it) and is
    stored as a tuple.

    Raises:
        ValueError: a field of the wrong type or outside its bound (the message names it).

    Example:
        >>> SyntheticConfig(seconds=2, test_datasets=["A"]).test_datasets
        ('A',)
    """

    num_categories: int = 5
    num_train: int = 32
    num_val: int = 4
    num_test: int = 4
    seconds: int = 3
    fps: int = 8
    height: int = 96
    width: int = 128
    max_distractors: int = 2
    mismatch_fraction: float = 0.25
    sample_rate: int = 16_000
    test_datasets: tuple[str, ...] = ("SynthAV", "SynthDIEM")
    num_test_videos: int = 3
    test_seconds: int = 2
    observers: int = 12
    style: str = "photo"

    def __post_init__(self) -> None:
        if self.style not in STYLES:
            raise ValueError(
                f"SyntheticConfig: style must be one of {list(STYLES)}, found {self.style!r}"
            )
        for name, (lo, hi) in _INT_RANGES.items():
            value = getattr(self, name)
            if name == "num_categories":
                hi = len(self._names)
            is_int = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
            if not (is_int and lo <= value <= hi):
                kind = "" if is_int else f" ({type(value).__name__})"
                raise ValueError(
                    f"SyntheticConfig: {name} must be an int in [{lo}, {hi}], found {value!r}{kind}"
                )
            object.__setattr__(self, name, int(value))
        if self.height % 2 or self.width % 2:
            raise ValueError(
                f"SyntheticConfig: height and width must be even (for H.264), found "
                f"{self.height}x{self.width}"
            )
        frac = self.mismatch_fraction
        if isinstance(frac, bool) or not isinstance(frac, (int, float)) or not 0.0 <= frac <= 1.0:
            raise ValueError(
                f"SyntheticConfig: mismatch_fraction must be in [0, 1], found {frac!r}"
            )
        names = self.test_datasets
        if isinstance(names, str) or not isinstance(names, (tuple, list)):
            raise ValueError(
                f"SyntheticConfig: test_datasets must be a tuple of names, found {names!r}"
            )
        for db in names:
            if not isinstance(db, str) or not db or "/" in db or "\\" in db or db in (".", ".."):
                raise ValueError(
                    f"SyntheticConfig: each test dataset name must be one folder name, found {db!r}"
                )
        if len(set(names)) != len(names):
            raise ValueError(f"SyntheticConfig: test_datasets repeats a name: {list(names)}")
        object.__setattr__(self, "test_datasets", tuple(names))

    @property
    def _names(self) -> tuple[str, ...]:
        return _PHOTO_NAMES if self.style == "photo" else _NAMES

    @property
    def categories(self) -> list[str]:
        """Class names in tag order (sorted, as :class:`~scamlib.data.AVE` orders them)."""
        return sorted(self._names[: self.num_categories])

    def look(self, tag: int) -> int:
        """Which object and sound (index into the style's list) category ``tag`` shows.

        A photo category shows its namesake photograph; the drawn world's looks follow the
        tag (its names are labels only)."""
        return self._names.index(self.categories[tag]) if self.style == "photo" else tag

    def to_json(self) -> str:
        """The config as a JSON string (``SyntheticConfig(**json.loads(s))`` restores it)."""
        return json.dumps(dataclasses.asdict(self))


@dataclass(frozen=True)
class SyntheticPaths:
    """Where :func:`generate` wrote things."""

    root: Path
    ave_dir: Path
    stavis_root: Path
    ground_truth: Path
    categories: tuple[str, ...]
    test_datasets: tuple[str, ...]


# ---- drawing -----------------------------------------------------------------------------
def _shape_mask(kind: int, dx: np.ndarray, dy: np.ndarray, r: float) -> np.ndarray:
    kind %= 6
    if kind == 0:
        return dx**2 + dy**2 <= r**2
    if kind == 1:
        return np.maximum(np.abs(dx), np.abs(dy)) <= 0.85 * r
    if kind == 2:
        return (np.abs(dx) + np.abs(dy)) <= 1.2 * r
    if kind == 3:
        return (dy <= 0.8 * r) & (np.abs(dx) <= 0.6 * (dy + r))
    if kind == 4:
        d = dx**2 + dy**2
        return (d <= r**2) & (d >= (0.45 * r) ** 2)
    return ((np.abs(dx) < 0.4 * r) & (np.abs(dy) < r)) | ((np.abs(dy) < 0.4 * r) & (np.abs(dx) < r))


def _texture(kind: int, yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    kind %= 4
    if kind == 0:
        return np.ones_like(yy, dtype=np.float32)
    if kind == 1:
        return np.where(((xx + yy) // 4) % 2 == 0, 1.0, 0.55).astype(np.float32)
    if kind == 2:
        return np.where((xx // 4 + yy // 4) % 2 == 0, 1.0, 0.55).astype(np.float32)
    return np.where((yy // 3) % 2 == 0, 1.0, 0.7).astype(np.float32)


class _Object:
    """A moving object: body centre, radius, velocity, head direction; bounces off the edges."""

    def __init__(
        self, rng: np.random.Generator, cat: int, h: int, w: int, scale: float, photo: bool
    ) -> None:
        self.cat = cat
        self.r = float(rng.uniform(0.16, 0.22) * min(h, w) * scale)
        margin = self.r * 1.6
        self.pos = np.array([rng.uniform(margin, w - margin), rng.uniform(margin, h - margin)])
        speed = rng.uniform(0.8, 2.5) * min(h, w) / 96
        ang = rng.uniform(0, 2 * np.pi)
        self.vel = speed * np.array([np.cos(ang), np.sin(ang)])
        self.head_angle = float(rng.uniform(0, 2 * np.pi))
        self.h, self.w = h, w
        self.look = _photo.PhotoLook(rng, cat, self.r) if photo else None
        self.head_offset = (
            self.look.focus_offset
            if self.look is not None
            else 0.75 * self.r * np.array([np.cos(self.head_angle), np.sin(self.head_angle)])
        )

    def centres(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        lo = self.r * 1.6
        span = np.array([self.w, self.h]) - 2 * lo
        raw = self.pos - lo + self.vel * t
        folded = np.abs(((raw / span) + 1) % 2 - 1) * span + lo  # reflect at the borders
        return folded, folded + self.head_offset

    def draw(self, img: np.ndarray, t: int, yy: np.ndarray, xx: np.ndarray) -> None:
        body, head = self.centres(t)
        if self.look is not None:
            self.look.paste(img, body)
            return
        mask = _shape_mask(self.cat, xx - body[0], yy - body[1], self.r)
        shade = _texture(self.cat // 2 + self.cat, yy, xx)
        img[mask] = _COLOURS[self.cat] * shade[mask, None]
        hmask = (xx - head[0]) ** 2 + (yy - head[1]) ** 2 <= (0.32 * self.r) ** 2
        img[hmask] = _HEADS[self.cat]


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    base = rng.uniform(20, 90, size=3)
    tilt = rng.uniform(-40, 40, size=3)
    ramp = np.linspace(0, 1, w, dtype=np.float32)[None, :, None]
    noise = rng.normal(0, 6, size=(h, w, 1))
    return (base + tilt * ramp + noise).astype(np.float32)


def _density(h: int, w: int, body: np.ndarray, head: np.ndarray, r: float) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    sh = max(0.45 * r, 1.5)
    g = np.exp(-((xx - head[0]) ** 2 + (yy - head[1]) ** 2) / (2 * sh**2))
    g += 0.25 * np.exp(-((xx - body[0]) ** 2 + (yy - body[1]) ** 2) / (2 * r**2))
    return (g / g.max()).astype(np.float32)


def _sound(cat: int, n: int, rate: int, rng: np.random.Generator) -> np.ndarray:
    """The drawn world's synthesised sound of category ``cat``."""
    t = np.arange(n, dtype=np.float64) / rate
    f0 = 260.0 * 1.45**cat
    kind = cat % 5
    if kind == 0:
        y = sum(np.sin(2 * np.pi * f0 * m * t) / m for m in (1, 2, 3))
    elif kind == 1:
        y = np.sin(2 * np.pi * (f0 * t + 0.5 * f0 * ((t % 0.5) ** 2) / 0.5))
    elif kind == 2:
        spec = np.fft.rfft(rng.normal(size=n))
        freqs = np.fft.rfftfreq(n, 1 / rate)
        spec[(freqs < f0 * 2) | (freqs > f0 * 4)] = 0
        y = np.fft.irfft(spec, n)
        y /= np.abs(y).max() + 1e-9
    elif kind == 3:
        y = np.sin(2 * np.pi * f0 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 6 * t))
    else:
        y = np.sin(2 * np.pi * f0 * 1.5 * t) * ((t * 4) % 1 < 0.3)
    return (0.5 * y / (np.abs(y).max() + 1e-9)).astype(np.float32)


def _render(rng, cfg: SyntheticConfig, tag: int, nframes: int):
    h, w = cfg.height, cfg.width
    yy, xx = np.mgrid[0:h, 0:w]
    photo = cfg.style == "photo"
    scene = _photo.Scene(rng, h, w) if photo else None
    bg = None if photo else _background(rng, h, w)
    main = _Object(rng, cfg.look(tag), h, w, 1.0, photo)
    others = [c for c in range(cfg.num_categories) if c != tag]
    nd = int(rng.integers(0, cfg.max_distractors + 1)) if cfg.max_distractors > 0 else 0
    distractors = [
        _Object(rng, cfg.look(int(rng.choice(others))), h, w, 0.85, photo) for _ in range(nd)
    ]
    frames = np.empty((nframes, h, w, 3), np.uint8)
    dens = np.empty((nframes, h, w), np.float32)
    heads = np.empty((nframes, 2), np.float32)
    bodies = np.empty((nframes, 2), np.float32)
    for t in range(nframes):
        img = scene.frame(rng, t) if scene is not None else bg.copy()
        for obj in (*distractors, main):
            obj.draw(img, t, yy, xx)
        frames[t] = np.clip(img, 0, 255).astype(np.uint8)
        body, head = main.centres(t)
        dens[t] = _density(h, w, body, head, main.r)
        heads[t], bodies[t] = head, body
    return frames, dens, heads, bodies, main.r


def _soundtrack(
    rng, cfg: SyntheticConfig, cat: int | None, seconds: float, on: tuple
) -> np.ndarray:
    n = round(seconds * cfg.sample_rate)
    y = rng.normal(0, 0.01, size=n).astype(np.float32)
    if cat is not None:
        a, b = round(on[0] * cfg.sample_rate), round(on[1] * cfg.sample_rate)
        if cfg.style == "photo":
            y[a:b] += _photo.sound(cfg.look(cat), b - a, cfg.sample_rate, rng)
        else:
            y[a:b] += _sound(cfg.look(cat), b - a, cfg.sample_rate, rng)
    return y


def _write_mp4(path: Path, frames: np.ndarray, audio: np.ndarray, fps: int, rate: int) -> None:
    import av

    tmp = path.with_name(f".{path.name}.tmp.mp4")
    with av.open(str(tmp), "w") as c:
        codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
        vs = c.add_stream(codec, rate=fps)
        vs.width, vs.height, vs.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        if codec == "libx264":
            vs.options = {"crf": "18", "preset": "veryfast"}
        aus = c.add_stream("aac", rate=rate)
        aus.layout = "mono"
        for f in frames:
            for p in vs.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(p)
        for p in vs.encode():
            c.mux(p)
        af = av.AudioFrame.from_ndarray(audio[None], format="flt", layout="mono")
        af.sample_rate, af.pts = rate, 0
        for p in aus.encode(af):
            c.mux(p)
        for p in aus.encode():
            c.mux(p)
    os.replace(tmp, path)


def _save_jpeg(path: Path, arr: np.ndarray) -> None:
    Image.fromarray(arr).save(path, quality=95)


# ---- writers -----------------------------------------------------------------------------
def ave_clip(cfg: SyntheticConfig, seed: int, i: int):
    """AVE clip ``i`` of the set, rendered in memory as :func:`generate` writes it.

    Returns:
        ``(tag, start, end, audio_tag, frames, density, head_xy, audio)``: frames
        ``(N, H, W, 3)`` uint8 before video encoding, density ``(N, H, W)``, head ``(N, 2)``
        pixel ``(x, y)``, audio float32 mono at ``cfg.sample_rate``.
    """
    rng = np.random.default_rng([seed, 1, i])
    tag = i % cfg.num_categories
    start = int(rng.integers(0, 2)) if cfg.seconds > 1 and rng.random() < 0.3 else 0
    end = cfg.seconds
    mismatched = i < cfg.num_train and rng.random() < cfg.mismatch_fraction
    audio_tag = (
        int((tag + 1 + rng.integers(0, cfg.num_categories - 1)) % cfg.num_categories)
        if mismatched
        else tag
    )
    frames, dens, heads, _bodies, _r = _render(rng, cfg, tag, cfg.seconds * cfg.fps)
    audio = _soundtrack(rng, cfg, audio_tag, cfg.seconds, (start, end))
    return tag, start, end, audio_tag, frames, dens, heads, audio


def _write_ave(root: Path, cfg: SyntheticConfig, seed: int) -> tuple[Path, Path]:
    import h5py

    ave = root / "AVE_Dataset"
    (ave / "AVE").mkdir(parents=True, exist_ok=True)
    gt = ave / "ground_truth"
    gt.mkdir(exist_ok=True)
    names = cfg.categories
    n_total = cfg.num_train + cfg.num_val + cfg.num_test
    nframes = cfg.seconds * cfg.fps
    rows, summary = [], []
    for i in range(n_total):
        vid = f"syn{seed:03d}v{i:04d}"
        tag, start, end, audio_tag, frames, dens, heads, audio = ave_clip(cfg, seed, i)
        _write_mp4(ave / "AVE" / f"{vid}.mp4", frames, audio, cfg.fps, cfg.sample_rate)
        np.savez_compressed(
            gt / f"{i:05d}.npz", density=dens, frame_index=np.arange(1, nframes + 1),
            head_xy=heads, tag=tag, audio_tag=audio_tag, audio_matches=audio_tag == tag,
        )  # fmt: skip
        rows.append(f"{names[tag]}&{vid}&good&{start}&{end}")
        summary.append({"row": i, "video_id": vid, "tag": tag, "audio_tag": audio_tag,
                        "start": start, "end": end})  # fmt: skip
    header = "Category&VideoID&Quality&StartTime&EndTime"
    (ave / "Annotations.txt").write_text("\n".join([header, *rows]) + "\n")
    bounds = {"train": (0, cfg.num_train), "val": (cfg.num_train, cfg.num_train + cfg.num_val),
              "test": (cfg.num_train + cfg.num_val, n_total)}  # fmt: skip
    for split, (a, b) in bounds.items():
        (ave / f"{split}Set.txt").write_text("\n".join([header, *rows[a:b]]) + "\n")
        with h5py.File(ave / f"{split}_order.h5", "w") as f:
            f.create_dataset("order", data=np.arange(a, b, dtype=np.int64))
    (gt / "clips.json").write_text(json.dumps(summary, indent=1))
    return ave, gt


def _write_stavis(root: Path, cfg: SyntheticConfig, seed: int) -> Path:
    import scipy.io
    import soundfile as sf
    from scipy.ndimage import gaussian_filter

    st = root / "stavis"
    (st / "fold_lists").mkdir(parents=True, exist_ok=True)
    h, w = cfg.height, cfg.width
    nframes = cfg.test_seconds * cfg.fps
    for d, db in enumerate(cfg.test_datasets):
        names = []
        for v in range(cfg.num_test_videos):
            rng = np.random.default_rng([seed, 2, d, v])
            tag = int(rng.integers(0, cfg.num_categories))
            name = f"{db}_v{v:02d}_{cfg.categories[tag].split(',')[0]}"
            names.append(name)
            frames, _dens, heads, bodies, r = _render(rng, cfg, tag, nframes)
            fdir = st / "video_frames" / db / name
            adir = st / "annotations" / db / name
            (adir / "maps").mkdir(parents=True, exist_ok=True)
            fdir.mkdir(parents=True, exist_ok=True)
            (st / "video_audio" / db / name).mkdir(parents=True, exist_ok=True)
            audio = _soundtrack(rng, cfg, tag, cfg.test_seconds, (0, cfg.test_seconds))
            sf.write(str(st / "video_audio" / db / name / f"{name}.wav"), audio, cfg.sample_rate)
            for t in range(nframes):
                k = t + 1
                _save_jpeg(fdir / f"img_{k:05d}.jpg", frames[t])
                on_head = rng.random(cfg.observers) < 0.8
                centre = np.where(on_head[:, None], heads[t], bodies[t])
                spread = np.where(on_head, 0.3 * r, 0.6 * r)[:, None]
                pts = np.rint(centre + rng.normal(size=(cfg.observers, 2)) * spread).astype(int)
                pts[:, 0] = pts[:, 0].clip(0, w - 1)
                pts[:, 1] = pts[:, 1].clip(0, h - 1)
                fix = np.zeros((h, w), np.uint8)
                fix[pts[:, 1], pts[:, 0]] = 1
                dens = gaussian_filter(fix.astype(np.float64), sigma=max(2.0, 0.2 * min(h, w) / 4))
                dens = np.rint(255 * dens / dens.max()).astype(np.uint8)
                _save_jpeg(adir / "maps" / f"eyeMap_{k:05d}.jpg", dens)
                scipy.io.savemat(adir / f"fixMap_{k:05d}.mat", {"eyeMap": fix})
        lines = [f"{n} {nframes} {cfg.fps:.6f}" for n in names]
        lists = st / "fold_lists"
        if d == 0:
            for s in (1, 2, 3):
                test = {names[(s - 1) % len(names)]}
                train = [ln for n, ln in zip(names, lines) if n not in test] or lines[:1]
                (lists / f"{db}_list_test_{s}_fps.txt").write_text(
                    "\n".join(ln for n, ln in zip(names, lines) if n in test) + "\n"
                )
                (lists / f"{db}_list_train_{s}_fps.txt").write_text("\n".join(train) + "\n")
        else:
            (lists / f"{db}_list_test_fps.txt").write_text("\n".join(lines) + "\n")
            (lists / f"{db}_list_train_fps.txt").write_text("\n".join(lines[:1]) + "\n")
    return st


def stamp(config: SyntheticConfig, seed: int) -> str:
    """What :func:`generate` writes to ``synthetic_config.json``: the config, the seed and, for
    the photo style, the versions of the packages its material comes from (a set made with
    other versions is written anew)."""
    record = {"config": json.loads(config.to_json()), "seed": seed}
    if config.style == "photo":
        record["material"] = _material.versions()
    return json.dumps(record)


def generate(
    root: str | os.PathLike, config: SyntheticConfig | None = None, seed: int = 0
) -> SyntheticPaths:
    """Write the synthetic world under ``root`` (layout in the module docstring).

    Writes ``root/synthetic_config.json`` (config and seed) last; a folder that already holds
    the same config and seed is returned without rewriting.

    Returns:
        :class:`SyntheticPaths` with the AVE folder, the STAViS root, the ground-truth folder,
        the category names (tag order) and the test dataset names.

    Example:
        >>> import tempfile
        >>> p = generate(tempfile.mkdtemp(), SyntheticConfig(num_train=2, num_val=0, num_test=0,
        ...              num_test_videos=1, test_seconds=1))
        >>> sorted(x.name for x in p.ave_dir.iterdir())[:2]
        ['AVE', 'Annotations.txt']
    """
    cfg = config if config is not None else SyntheticConfig()
    if not isinstance(cfg, SyntheticConfig):
        raise TypeError(f"config must be a SyntheticConfig, got {type(cfg).__name__}")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    marker = root / "synthetic_config.json"
    record = stamp(cfg, seed)
    paths = SyntheticPaths(
        root=root,
        ave_dir=root / "AVE_Dataset",
        stavis_root=root / "stavis",
        ground_truth=root / "AVE_Dataset" / "ground_truth",
        categories=tuple(cfg.categories),
        test_datasets=tuple(cfg.test_datasets),
    )
    if marker.is_file() and marker.read_text() == record:
        return paths
    _write_ave(root, cfg, seed)
    _write_stavis(root, cfg, seed)
    marker.write_text(record)
    return paths
