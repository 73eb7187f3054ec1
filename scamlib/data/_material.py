"""Photographs and recordings for the built-in world, read from installed packages.

The "photo" style of :mod:`scamlib.data.synthetic` builds its sounding objects and scenes from
material that ``pip`` installs with scikit-image and pygame; nothing is downloaded:

=========== ======================================= =========================================
category    photograph (what observers look at)     recording
=========== ======================================= =========================================
Rocket      ``skimage.data.rocket`` (the rocket)    ``pygame/examples/data/boom.wav``
Punch       ``pygame/examples/data/fist.png``       ``punch.wav``
            (the fist; the blue screen is keyed)
Coffee      ``skimage.data.coffee`` (the cup)       ``house_lo.wav`` (music)
Astronaut   ``skimage.data.astronaut`` (the face)   ``secosmic_lo.wav``
Motorcycle  ``skimage.data.stereo_motorcycle``      ``car_door.wav``
            (left view; the tank)
Cat         ``skimage.data.chelsea`` (the eyes)     ``whiff.wav``
=========== ======================================= =========================================

Scenes behind the objects: scikit-image's ``brick``, ``grass`` and ``gravel`` textures (tinted)
and its ``hubble_deep_field`` and ``immunohistochemistry`` photographs; no scene belongs to a
category. scikit-image's sample images are public domain or CC0 (see its
``skimage.data`` docs); pygame's example data ships under pygame's LGPL. Both are read from the
user's installed copies at generation time, never redistributed by scamlib.

Which object region each photograph contributes, and the point observers fixate on it, were
chosen by looking at the photographs once (the object's extent; a face's or an eye region's
centre, a fist's knuckles, a cup's crema, a rocket's body, a motorcycle's tank), before any run
of the method; they are not tuned toward any result.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .audio import load_waveform

__all__ = ["SOURCES", "Material", "PhotoSource", "load", "versions"]


@dataclass(frozen=True)
class PhotoSource:
    """One category of the photo world.

    Attributes:
        name: category name.
        image: scikit-image loader name, or ``"pygame:<file>"`` for pygame's example data.
        box: object region ``(x0, y0, x1, y1)`` as fractions of the photograph's width/height.
        focus: the fixated point ``(x, y)`` as fractions of the photograph.
        sound: file under ``pygame/examples/data``.
        key: ``"blue"`` to cut the object out of a blue screen; ``None``: soft ellipse.
    """

    name: str
    image: str
    box: tuple[float, float, float, float]
    focus: tuple[float, float]
    sound: str
    key: str | None = None


# fmt: off
SOURCES: tuple[PhotoSource, ...] = (
    PhotoSource("Rocket", "rocket", (0.36, 0.22, 0.64, 1.0), (0.50, 0.42), "boom.wav"),
    PhotoSource("Punch", "pygame:fist.png", (0.40, 0.0, 1.0, 0.5), (0.73, 0.14), "punch.wav",
                key="blue"),
    PhotoSource("Coffee", "coffee", (0.10, 0.0, 0.95, 1.0), (0.50, 0.22), "house_lo.wav"),
    PhotoSource("Astronaut", "astronaut", (0.12, 0.0, 0.72, 0.70), (0.44, 0.17),
                "secosmic_lo.wav"),
    PhotoSource("Motorcycle", "stereo_motorcycle", (0.10, 0.15, 0.95, 0.92), (0.55, 0.45),
                "car_door.wav"),
    PhotoSource("Cat", "chelsea", (0.12, 0.0, 0.98, 1.0), (0.56, 0.50), "whiff.wav"),
)
# fmt: on

_SCENES = ("brick", "grass", "gravel", "hubble_deep_field", "immunohistochemistry")


@dataclass(frozen=True)
class Material:
    """Decoded material: per category the object crop (RGB uint8), its alpha in [0, 1], the
    focus in crop pixels ``(x, y)`` and the recording (float32 mono at ``sound_rate``); the
    scenes as RGB uint8 (grayscale textures repeated over the channels)."""

    objects: tuple[np.ndarray, ...]
    alphas: tuple[np.ndarray, ...]
    foci: tuple[tuple[float, float], ...]
    sounds: tuple[np.ndarray, ...]
    sound_rate: int
    scenes: tuple[np.ndarray, ...]
    greyscale: tuple[bool, ...]


def _missing(what: str) -> ImportError:
    return ImportError(
        f"the built-in world's 'photo' style reads {what}; install it with "
        "`pip install scikit-image pygame` (scamlib's dependencies), or generate the drawn "
        "world with SyntheticConfig(style='drawn')"
    )


def _pygame_data() -> Path:
    spec = importlib.util.find_spec("pygame")  # located, not imported (pygame prints on import)
    if spec is None or not spec.submodule_search_locations:
        raise _missing("recordings and a photograph from pygame's example data")
    folder = Path(next(iter(spec.submodule_search_locations))) / "examples" / "data"
    if not folder.is_dir():
        raise FileNotFoundError(f"pygame is installed but has no example data at {folder}")
    return folder


def _photo(name: str) -> np.ndarray:
    if name.startswith("pygame:"):
        from PIL import Image

        with Image.open(_pygame_data() / name.split(":", 1)[1]) as im:
            return np.asarray(im.convert("RGB"))
    try:
        import skimage.data
    except ImportError:
        raise _missing("photographs from scikit-image") from None
    img = getattr(skimage.data, name)()
    if isinstance(img, tuple):  # stereo_motorcycle: (left, right, disparity)
        img = img[0]
    img = np.asarray(img)
    if img.dtype != np.uint8:
        img = np.rint(255 * img / max(float(img.max()), 1e-12)).astype(np.uint8)
    return img


def _alpha(crop: np.ndarray, key: str | None) -> np.ndarray:
    h, w = crop.shape[:2]
    if key == "blue":
        rgb = crop.astype(np.float32)
        blue = (rgb[..., 2] > 120) & (rgb[..., 2] > 1.6 * np.maximum(rgb[..., 0], rgb[..., 1]))
        return (~blue).astype(np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    d = ((xx + 0.5) / w * 2 - 1) ** 2 + ((yy + 0.5) / h * 2 - 1) ** 2
    return np.clip((1.0 - d) / 0.3, 0.0, 1.0)  # an ellipse with a soft rim


def _recording(path: Path) -> tuple[np.ndarray, int]:
    """The recording at its own rate, mono, peak 1."""
    wave, rate = load_waveform(path, sample_rate=None)
    y = wave.numpy()
    return (y / max(float(np.abs(y).max()), 1e-9)).astype(np.float32), rate


@functools.lru_cache(maxsize=1)
def load() -> Material:
    """Read and crop the material once per process (a few hundred ms)."""
    data = _pygame_data()
    objects, alphas, foci, sounds, rates = [], [], [], [], set()
    for src in SOURCES:
        img = _photo(src.image)
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, axis=2)
        img = img[..., :3]
        h, w = img.shape[:2]
        x0, y0, x1, y1 = (round(f * s) for f, s in zip(src.box, (w, h, w, h)))
        crop = np.ascontiguousarray(img[y0:y1, x0:x1])
        objects.append(crop)
        alphas.append(_alpha(crop, src.key))
        foci.append((src.focus[0] * w - x0, src.focus[1] * h - y0))
        y, rate = _recording(data / src.sound)
        sounds.append(y)
        rates.add(rate)
    if len(rates) != 1:
        raise ValueError(f"pygame's recordings have mixed sample rates {sorted(rates)}")
    scenes, grey = [], []
    for name in _SCENES:
        img = _photo(name)
        grey.append(img.ndim == 2)
        scenes.append(np.repeat(img[..., None], 3, axis=2) if img.ndim == 2 else img[..., :3])
    return Material(
        objects=tuple(objects), alphas=tuple(alphas), foci=tuple(foci), sounds=tuple(sounds),
        sound_rate=rates.pop(), scenes=tuple(scenes), greyscale=tuple(grey),
    )  # fmt: skip


def versions() -> dict[str, str]:
    """The installed versions the photo world's files depend on (recorded in its stamp)."""
    out = {}
    for dist in ("scikit-image", "pygame"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = "missing"
    return out
