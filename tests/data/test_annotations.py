"""Parsers of AVE annotations/splits and STAViS fold lists, on hand-written and real files."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from scamlib.data import (
    DataError,
    available_splits,
    ave_categories,
    read_annotations,
    read_ave_split,
)
from scamlib.data.annotations import fold_list_path, read_fold_list

ROWS = [
    "Church bell&RUhOCu3LNXM&good&0&10",
    "Violin, fiddle&dupVID&good&2&7",
    "Acoustic guitar&dupVID&bad&0&10",
    "Church bell&other&good&6&8",
]
HEADER = "Category&VideoID&Quality&StartTime&EndTime"


def write(path, lines):
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("header", [True, False])
def test_annotations_with_and_without_header(tmp_path, header):
    p = write(tmp_path / "Annotations.txt", ([HEADER] if header else []) + ROWS)
    events = read_annotations(p)
    assert [e.row for e in events] == [0, 1, 2, 3]
    fields = [r.split("&") for r in ROWS]
    assert [(e.category, e.video_id, e.quality, e.start, e.end) for e in events] == [
        (f[0], f[1], f[2], float(f[3]), float(f[4])) for f in fields
    ]
    assert ave_categories(events) == sorted({f[0] for f in fields})


def test_duplicated_video_id_keeps_both_rows(tmp_path):
    events = read_annotations(write(tmp_path / "Annotations.txt", ROWS))
    dup = [e for e in events if e.video_id == "dupVID"]
    assert [(e.row, e.category) for e in dup] == [(1, "Violin, fiddle"), (2, "Acoustic guitar")]


@pytest.mark.parametrize(
    "bad", ["Church bell&x&good&0", "Church bell&x&good&a&3", "Church bell&x&good&5&3"]
)
def test_bad_rows_name_file_and_line(tmp_path, bad):
    p = write(tmp_path / "Annotations.txt", [ROWS[0], bad])
    with pytest.raises(DataError, match=r"Annotations\.txt:2"):
        read_annotations(p)


def test_missing_annotation_file(tmp_path):
    with pytest.raises(DataError, match=r"nope\.txt"):
        read_annotations(tmp_path / "nope.txt")


def test_split_from_txt_and_h5_agree(tmp_path):
    events = read_annotations(write(tmp_path / "Annotations.txt", [HEADER, *ROWS]))
    write(tmp_path / "testSet.txt", [HEADER, ROWS[3], ROWS[1]])
    assert read_ave_split(tmp_path, "test", events) == [3, 1]
    with h5py.File(tmp_path / "test_order.h5", "w") as f:
        f.create_dataset("order", data=np.array([2, 0]))
    assert read_ave_split(tmp_path, "test", events) == [2, 0]  # h5 takes precedence
    assert read_ave_split(tmp_path, "all", events) == [0, 1, 2, 3]


def test_split_errors(tmp_path):
    events = read_annotations(write(tmp_path / "Annotations.txt", ROWS))
    with pytest.raises(DataError, match=r"trainSet\.txt"):
        read_ave_split(tmp_path, "train", events)
    write(tmp_path / "valSet.txt", ["Church bell&unknown&good&0&10"])
    with pytest.raises(DataError, match=r"valSet\.txt.*unknown"):
        read_ave_split(tmp_path, "val", events)
    with h5py.File(tmp_path / "test_order.h5", "w") as f:
        f.create_dataset("order", data=np.array([0, 9]))
    with pytest.raises(DataError, match=r"test_order\.h5"):
        read_ave_split(tmp_path, "test", events)
    with pytest.raises(ValueError, match="split"):
        read_ave_split(tmp_path, "dev", events)


def test_fold_list_parse_and_errors(tmp_path):
    p = write(tmp_path / "X_list_test_1_fps.txt", ["a 10 25.0", "", "b 3 29.97"])
    assert [(e.name, e.nframes, e.fps) for e in read_fold_list(p)] == [
        ("a", 10, 25.0),
        ("b", 3, 29.97),
    ]
    write(p, ["a 10"])
    with pytest.raises(DataError, match=r"X_list_test_1_fps\.txt:1"):
        read_fold_list(p)
    assert fold_list_path(tmp_path, "DIEM", "test", None).name == "DIEM_list_test_fps.txt"
    assert fold_list_path(tmp_path, "AVAD", "train", 2).name == "AVAD_list_train_2_fps.txt"


def test_real_ave_files(reference_data):
    ave = reference_data / "ave"
    events = read_annotations(ave / "Annotations.txt")
    assert len(events) == 4143
    cats = ave_categories(events)
    assert len(cats) == 28 and "Violin, fiddle" in cats
    lines = [ln for ln in (ave / "Annotations.txt").read_text().splitlines() if ln.strip()]
    assert events[17].category == lines[17].split("&")[0]
    splits = {s: read_ave_split(ave, s, events) for s in ("train", "val", "test")}
    assert [len(v) for v in splits.values()] == [3339, 402, 402]
    every = set().union(*map(set, splits.values()))
    assert len(every) == 4143  # the three splits partition the rows
    ids = [e.video_id for e in events]
    assert len(set(ids)) < len(ids)  # some VideoIDs have two rows


def test_real_fold_lists(reference_data):
    lists = reference_data / "stavis_fold_lists"
    for db in ("AVAD", "Coutrot_db1", "Coutrot_db2", "ETMD_av", "SumMe"):
        for s in (1, 2, 3):
            test = read_fold_list(fold_list_path(lists, db, "test", s))
            train = read_fold_list(fold_list_path(lists, db, "train", s))
            assert test and train and not {e.name for e in test} & {e.name for e in train}
    diem = read_fold_list(fold_list_path(lists, "DIEM", "test", None))
    assert diem[0].name == "BBC_life_in_cold_blood_1278x710" and diem[0].nframes == 3399


def test_test_splits_finds_the_folds_and_names_what_is_there(tmp_path):
    lists = tmp_path / "fold_lists"
    lists.mkdir()
    for split in (1, 2, 3):
        (lists / f"AVAD_list_test_{split}_fps.txt").write_text("V1 10 30\n")
    (lists / "DIEM_list_test_fps.txt").write_text("v 10 30\n")
    assert available_splits(tmp_path, "AVAD") == [1, 2, 3]
    assert available_splits(tmp_path, "DIEM") == [None]
    with pytest.raises(DataError, match=r"'ETMD_av'.*datasets there: \['AVAD', 'DIEM'\]"):
        available_splits(tmp_path, "ETMD_av")
    with pytest.raises(DataError, match="not a STAViS-layout data root"):
        available_splits(tmp_path / "fold_lists", "AVAD")
