"""The STAViS evaluation driver: a dataset and predictions in, score tables out.

Each frame's prediction is post-processed and resized to the ground truth
(:func:`~scamlib.metrics.protocol.postprocess`), scored against the dataset's ``eyeMap``
(CC, SIM, KLD) and ``fixMap`` (AUC-J, s-AUC, NSS, AUC-B) with the MIT semantics; the s-AUC
negatives of a frame are the fixations of every frame of the same video minus the frame's
own. NaN frame scores are dropped, frames are averaged per video and videos per dataset
(STAViS evaluation code; STANet+ Sec. 4.1). :func:`evaluate` is a loop over
:class:`~scamlib.metrics.SaliencyMetrics`.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import Tensor

from .._fs import read_map
from .._validation import check_floating, check_ndim, check_tensor
from . import _registry as registry
from ._engine import ChunkPool, serial_executor
from ._results import EvaluationResult, combine_splits
from .streaming import DEFAULT_METRICS, Frame, SaliencyMetrics, check_metrics, check_options

__all__ = [
    "ALL_METRICS",
    "DEFAULT_METRICS",
    "FixationDataset",
    "PredictFn",
    "Predictor",
    "evaluate",
    "evaluate_dir",
    "shuffled_other",
]

#: Every metric :func:`evaluate` can compute (the registered ones).
ALL_METRICS: tuple[str, ...] = (*DEFAULT_METRICS, "KLD", "AUC_B")
ALL_METRICS += tuple(name for name in registry.names() if name not in ALL_METRICS)


def shuffled_other(video_fixations: Tensor, index: int | Tensor | None = None) -> Tensor:
    """Shuffled-AUC negative locations of frames of one video (STAViS protocol).

    ``other_t = (OR over all frames u of F_u) AND NOT F_t``: every location fixated in some frame
    of the video except the frame's own fixated pixels.

    Args:
        video_fixations: ``(t, h, w)`` bool fixation maps of all frames of the video.
        index: which frame(s) to return (0-based int or ``(k,)`` index tensor); all by default.

    Returns:
        ``(h, w)`` bool for an int ``index``, else ``(t, h, w)`` / ``(k, h, w)`` bool.

    Raises:
        TypeError: ``video_fixations`` not a tensor.
        ValueError: not three axes.

    Example:
        >>> f = torch.tensor([[[True, False]], [[False, True]], [[True, False]]])
        >>> shuffled_other(f, 0)
        tensor([[False,  True]])
    """
    check_ndim(check_tensor(video_fixations, "video_fixations"), "video_fixations", 3, "(t, h, w)")
    fix = video_fixations if video_fixations.dtype == torch.bool else video_fixations > 0
    union = fix.any(dim=0)
    chosen = fix if index is None else fix[index]
    return union & ~chosen


class FixationDataset(Protocol):
    """What :func:`evaluate` needs from a dataset (``scamlib.data.AVSaliency`` provides it).

    ``dataset[i]`` is a dict with ``density`` (``(H, W)`` float in ``[0, 1]``, the eyeMap, or
    its uint8 grey levels: the map is then their float32 quotient by 255), ``fixations``
    (``(H, W)`` bool, the fixMap), ``video`` (str) and ``frame_index`` (int, 1-based);
    ``fixation_union(video)`` is the ``(H, W)`` bool union of the video's fixMaps.
    """

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> Mapping[str, Any]: ...

    def fixation_union(self, video: str) -> Tensor: ...


#: A prediction function: a dataset item (see :class:`FixationDataset`) -> its ``(h, w)`` map.
PredictFn = Callable[[Mapping[str, Any]], Tensor]
#: Deprecated name of :data:`PredictFn` (it clashed with :class:`scamlib.inference.Predictor`).
Predictor = PredictFn


def _decode_gray8_png(path: Path) -> Tensor | None:
    """The ``(h, w)`` uint8 levels of an 8-bit grey PNG, decoded by ``torchvision.io``
    (libpng, without holding the GIL); ``None`` for any other file or on any failure, which
    :func:`read_map` then reads (or reports). The PNG header says the bit depth (byte 24) and
    the colour type (byte 25: 0 is grey, without alpha or palette).
    """
    try:
        from torchvision.io import decode_png, read_file

        data = read_file(str(path))
        if data.numel() < 26 or int(data[24]) != 8 or int(data[25]) != 0:
            return None
        img = decode_png(data)
    except Exception:  # read_map decodes it again and reports the error
        return None
    if img.dtype != torch.uint8 or img.ndim != 3 or img.shape[0] != 1:
        return None
    return img[0]


def _levels_to(levels: Tensor, dtype: torch.dtype) -> Tensor:
    """8-bit levels divided by 255 in ``dtype``: the map :func:`scamlib._fs.read_map` gives
    in float64. In float32 each of the 256 levels is the float32 rounding of the float64
    quotient, what the scorer's float32 conversion of :func:`read_map`'s map gives (a test
    checks every level)."""
    return levels.to(dtype).div_(255.0)


def _read_gray8_png(path: Path, dtype: torch.dtype = torch.float64) -> Tensor | None:
    """An 8-bit grey PNG as the ``(h, w)`` map :func:`scamlib._fs.read_map` gives (values
    divided by 255, see :func:`_levels_to`), by :func:`_decode_gray8_png`; ``None`` for any
    other file or on any failure."""
    levels = _decode_gray8_png(path)
    return None if levels is None else _levels_to(levels, dtype)


def _read_prediction(
    root: Path, video: str, frame: int, dtype: torch.dtype = torch.float64, levels: bool = False
) -> Tensor:
    """``<root>/<video>/img_<frame:05d>.png`` as :func:`scamlib._fs.read_map` reads it (8-bit
    grey PNGs, what :func:`scamlib._fs.write_map_png` writes, by a faster decoder, in
    ``dtype``: see :func:`_levels_to`; any other file in float64).

    With ``levels``, an 8-bit grey PNG gives its ``(h, w)`` uint8 levels instead (the map is
    ``levels / 255``), which the scorer converts where it copies them (see :class:`Frame`).
    """
    path = root / video / f"img_{frame:05d}.png"
    if not path.is_file():
        raise FileNotFoundError(
            f"no prediction for video {video!r} frame {frame}: expected the file {path}"
        )
    raw = _decode_gray8_png(path)
    if raw is not None:
        return raw if levels else _levels_to(raw, dtype)
    return read_map(path, dtype=torch.float64)


def _check_dataset(dataset: object) -> None:
    missing = [a for a in ("__len__", "__getitem__", "fixation_union") if not hasattr(dataset, a)]
    if missing:
        raise TypeError(
            "dataset must have __len__, __getitem__ and fixation_union(video); "
            f"{type(dataset).__name__} lacks {missing}"
        )


def _check_item(item: object, index: int) -> Mapping[str, Any]:
    if not isinstance(item, Mapping):
        raise TypeError(f"dataset[{index}] must be a mapping, got {type(item).__name__}")
    missing = [k for k in ("density", "fixations", "video", "frame_index") if k not in item]
    if missing:
        raise ValueError(f"dataset[{index}] lacks the key(s) {missing}")
    return item


def evaluate(
    predictions: str | Path | PredictFn,
    dataset: FixationDataset,
    *,
    metrics: Sequence[str] = DEFAULT_METRICS,
    seed: int = 0,
    generator: torch.Generator | None = None,
    batch_size: int = 64,
    device: str | torch.device | None = None,
    dtype: torch.dtype = torch.float32,
    sigma: float = 2.0,
    n_splits: int = 100,
    step: float = 0.1,
    jitter: bool = True,
    threads: int | None = None,
    readers: int = 0,
) -> EvaluationResult:
    """Score predictions on a STAViS-layout dataset with the STAViS protocol.

    Every frame's prediction goes through :func:`postprocess` (scale, blur, resize to the
    ground-truth size), then CC / SIM / KLD are computed against ``density`` and AUC-J / s-AUC /
    NSS / AUC-B against ``fixations``; the s-AUC negatives are
    ``dataset.fixation_union(video) & ~fixations``. Frames of one video are scored in batches
    of ``batch_size``. NaN frame scores are dropped from the per-video means, NaN video means
    from the dataset mean.

    Speed: for each batch, the calling thread lists the fixations and the s-AUC negatives and
    makes the random draws, then hands the batch's chunks (a couple of frames, about ``2^19``
    pixels, so that every pass over them stays in the caches) to ``threads`` threads and, while
    they post-process and score them, prepares the next batch and finishes the previous one.
    The blur and resize use the band of the MATLAB operators only, AUC-Judd counts pixels with
    a histogram instead of sorting, the moments of prediction and ground truth come from one
    blocked product, and scratch memory is reused from chunk to chunk.
    ``benchmarks/bench_metrics.py`` measures it (see :doc:`/api/metrics_protocol`).

    Args:
        predictions: a directory holding ``<video>/img_<frame_index:05d>.png`` (first channel,
            divided by 255), or a callable ``f(item) -> (h', w')`` float tensor.
        dataset: a :class:`FixationDataset` (e.g. ``scamlib.data.AVSaliency``).
        metrics: names from :data:`ALL_METRICS`; the papers' five by default.
        seed: when ``generator`` is not given, seeds one generator on ``device`` per randomised
            metric (AUC-J jitter, s-AUC, AUC-B draws): the same seed, data and ``batch_size``
            give the same scores, whichever other metrics are requested.
        generator: one random source shared by the jitter and the s-AUC / AUC-B draws.
        batch_size: frames per batch (a batch never spans two videos). How the CPU cuts a
            batch into chunks, and how many threads score them, changes no random draw (at most
            the last bit of a resized map).
        device: where the maps are scored (default CPU).
        dtype: precision of the post-processing, the resize and the passes of the metrics over
            the pixels: float32 (default, about twice as fast; maps agree with MATLAB's double
            arithmetic to ~1e-7, scores with float64's to ~1e-6) or float64 (~1e-12). Sums,
            moments and the finishing arithmetic are float64 either way.
        sigma: blur sigma in pixels (STAViS: 2).
        n_splits, step: s-AUC / AUC-B settings (MIT defaults 100 and 0.1).
        jitter: AUC-Judd jitter (MIT default ``True``).
        threads: CPU threads scoring the chunks of a batch concurrently (default
            ``torch.get_num_threads()``; ignored on a GPU). The random draws do not depend on
            it; with several threads the chunks are larger (fewer per batch), which may change
            the last bit of a resized map.
        readers: threads reading dataset items (and, for a directory of predictions, the
            prediction images) ahead of the scoring, at most two batches ahead; 0 (default)
            reads in the calling thread. On the CPU, up to ``threads`` readers are the scoring
            threads themselves, which read between chunks (no more threads than that compete
            for the cores and the GIL); more readers, or readers beside a GPU, get threads of
            their own. Reader threads, and the calling thread while scoring threads run, use
            one torch intra-op thread each (the decoders release the GIL; 8-bit grey PNG
            predictions are decoded by ``torchvision.io`` and reach the scorer as their
            levels, divided by 255 in ``dtype`` where the scorer copies them: the values
            :func:`scamlib._fs.read_map` gives once converted to ``dtype``). With readers,
            ``dataset[i]`` and ``dataset.fixation_union`` must allow concurrent calls
            (``AVSaliency`` does); a callable ``predictions`` is always called in the calling
            thread.

    Returns:
        :class:`EvaluationResult` with per-frame, per-video and dataset tables.

    Raises:
        TypeError: bad ``predictions``, ``metrics`` or dataset interface.
        ValueError: unknown metrics, bad ``batch_size``, a dataset item without the needed keys.
        FileNotFoundError: a prediction image is missing.

    Example:
        >>> class Toy:
        ...     def __len__(self): return 2
        ...     def __getitem__(self, i):
        ...         fix = torch.zeros(6, 8, dtype=torch.bool); fix[2, 3 + i] = True
        ...         return {"density": fix.double(), "fixations": fix, "video": "v",
        ...                 "frame_index": i + 1, "fps": 25.0}
        ...     def fixation_union(self, video):
        ...         return self[0]["fixations"] | self[1]["fixations"]
        >>> result = evaluate(lambda item: item["density"].float(), Toy(), metrics=["CC", "NSS"])
        >>> result.summary["NSS"] > 1
        True
    """
    _check_dataset(dataset)
    metrics = check_metrics(metrics)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if isinstance(readers, bool) or not isinstance(readers, int) or readers < 0:
        raise ValueError(f"readers must be a non-negative int, got {readers!r}")
    check_options(
        threads=threads, dtype=dtype, sigma=sigma, n_splits=n_splits, step=step, jitter=jitter
    )
    if isinstance(predictions, (str, Path)):
        root = Path(predictions)
        if not root.is_dir():
            raise FileNotFoundError(f"predictions directory {root} does not exist")

        def read(item: Mapping[str, Any]) -> Tensor:
            video, frame = str(item["video"]), int(item["frame_index"])
            return _read_prediction(root, video, frame, levels=True)  # see _LevelMaps

        predict = None  # read with the items
    elif callable(predictions):
        read, predict = None, predictions
    else:
        raise TypeError(
            "predictions must be a directory path or a callable item -> map, "
            f"got {type(predictions).__name__}"
        )
    scores = SaliencyMetrics(
        metrics, seed=seed, generator=generator, device=device, dtype=dtype, sigma=sigma,
        n_splits=n_splits, step=step, jitter=jitter, threads=threads, sync=False,
    )  # fmt: skip
    unions: dict[str, Future] = {}
    read_unions = "sAUC" in scores.metrics  # before the frames: each fixMap decoded once
    with scores:
        pool = scores.pool
        shared = pool if 0 < readers <= pool.threads and pool.threads > 1 else None
        frames = _read_frames(
            dataset, read, readers, 2 * batch_size, unions if read_unions else None, shared
        )
        # the calling thread only lists, reads and hands out work while the scoring threads
        # run: one intra-op thread for it (a team of them spins on the cores they use)
        with contextlib.closing(frames), pool.serial():
            _score_frames(frames, dataset, predict, scores, batch_size, unions)
            return scores.compute()


def _read_frames(
    dataset: FixationDataset,
    read: PredictFn | None,
    readers: int,
    window: int,
    unions: dict[str, Future] | None = None,
    pool: ChunkPool | None = None,
) -> Iterator[tuple[Mapping[str, Any], Tensor | None]]:
    """``(item, read(item))`` for every index of ``dataset``, in order (``None`` without
    ``read``); with ``readers`` threads, up to ``window`` frames are read ahead, on the
    threads of ``pool`` when given (then ``readers`` only says to read ahead).

    With ``unions`` (a dict to fill) and a dataset that says each item's video without
    reading it (``video_of(index)``), the reader (or, without readers, the calling thread)
    that reaches a video first also reads its fixation union (the s-AUC negatives) into
    ``unions[video]``, before the video's first item: a dataset that keeps the fixations it
    read for the union (``AVSaliency`` does) then decodes each fixation map once.
    """
    video_of = getattr(dataset, "video_of", None) if unions is not None else None
    lock = threading.Lock()

    def load(index: int) -> tuple[Mapping[str, Any], Tensor | None]:
        if video_of is not None:
            video = str(video_of(index))
            with lock:
                first = video not in unions
                if first:
                    unions[video] = Future()
            if first:
                try:
                    unions[video].set_result(dataset.fixation_union(video))
                except BaseException as exc:  # the scoring thread raises it
                    unions[video].set_exception(exc)
        item = _check_item(dataset[index], index)
        return item, (read(item) if read is not None else None)

    n = len(dataset)
    if readers == 0:
        yield from (load(index) for index in range(n))
        return
    own = None if pool is not None else serial_executor(readers, "scamlib-read")
    submit = own.submit if own is not None else pool.submit_call  # decoding: no intra-op team
    ahead: deque[Future] = deque()
    try:
        for index in range(n):
            while len(ahead) < window and index + len(ahead) < n:
                ahead.append(submit(load, index + len(ahead)))
            yield ahead.popleft().result()
    finally:
        if own is not None:
            own.shutdown(wait=True, cancel_futures=True)
        else:  # the pool outlives this generator: its reads must not
            for future in ahead:
                future.cancel()
            for future in ahead:
                if not future.cancelled():
                    future.exception()


def _score_frames(
    frames: Iterable[tuple[Mapping[str, Any], Tensor | None]],
    dataset: FixationDataset,
    predict: PredictFn | None,
    scores: SaliencyMetrics,
    batch_size: int,
    unions: Mapping[str, Future] | None = None,
) -> None:
    """Feed every frame of ``dataset`` to ``scores``, a batch of one video at a time (the
    fixation unions from ``unions`` where the readers read them). Without ``predict``, the
    predictions are those read with the items: uint8 ones are the 8-bit levels of a
    directory's PNGs (see :class:`Frame`)."""
    batch: list[Frame] = []
    batch_key: tuple[Any, ...] | None = None
    union_of: tuple[str | None, Tensor | None] = (None, None)

    def flush() -> None:
        nonlocal union_of
        if not batch:
            return
        video = batch[0].video
        if union_of[0] != video:
            ahead = (unions or {}).get(video)
            union = torch.as_tensor(
                ahead.result() if ahead is not None else dataset.fixation_union(video)
            )
            union_of = (video, union if union.dtype == torch.bool else union > 0)
        scores.update_frames(list(batch), union_of[1])
        batch.clear()

    for item, pred in frames:
        if predict is not None:
            pred = predict(item)
        if predict is not None or pred.dtype != torch.uint8:
            check_floating(check_tensor(pred, "prediction"), "prediction")
        check_ndim(pred, "prediction", 2, "(h, w)")
        density = torch.as_tensor(item["density"])
        key = (str(item["video"]), tuple(pred.shape), tuple(density.shape))
        if batch and (key != batch_key or len(batch) == batch_size):
            flush()
        batch_key = key
        fixations = torch.as_tensor(item["fixations"])
        video, index = str(item["video"]), int(item["frame_index"])
        batch.append(Frame(pred, fixations, density, video, index))
    flush()


def evaluate_dir(
    pred_root: str | Path,
    data_root: str | Path,
    dataset: str,
    split: int | str | Sequence[int | str] | None = None,
    **options: Any,
) -> EvaluationResult:
    """Score a directory of predicted maps on a STAViS-layout dataset on disk.

    Builds the annotations of ``scamlib.data.AVSaliency(data_root, dataset, split=...)``
    (:meth:`~scamlib.data.AVSaliency.ground_truth`; imported here, so the metrics package
    never imports the data package at module level) and calls
    :func:`evaluate`, with two ``readers`` unless ``options`` say otherwise. With a sequence of
    splits (e.g. ``(1, 2, 3)`` for the datasets STAViS evaluates on three folds) every split is
    scored and the results are merged by :func:`combine_splits`: the dataset score is the mean
    over splits.

    Args:
        pred_root: directory with ``<video>/img_<frame:05d>.png`` predictions.
        data_root: root of the STAViS-layout data.
        dataset: dataset name (``"AVAD"``, ``"DIEM"``, ...).
        split: a split, a sequence of splits, or ``None`` (the adapter's default).
        **options: forwarded to :func:`evaluate` (``metrics``, ``seed``, ``device``, ...).

    Returns:
        :class:`EvaluationResult`.

    Raises:
        ImportError: ``scamlib.data`` is not available.
        FileNotFoundError: missing prediction files or dataset paths.

    Example:
        >>> callable(evaluate_dir)
        True
    """
    from ..data import AVSaliency  # lazy: metrics does not depend on data at import time

    options.setdefault("readers", 2)

    def truth(s: int | str | None):
        return AVSaliency(data_root, dataset, split=s, size=None).ground_truth(levels=True)

    if split is not None and not isinstance(split, (int, str)):
        results = {str(s): evaluate(pred_root, truth(s), **options) for s in split}
        return combine_splits(results)
    return evaluate(pred_root, truth(split), **options)
