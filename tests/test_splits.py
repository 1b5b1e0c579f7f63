"""Split protocols: speaker disjointness, noisy copies with their source, stratification, I/O."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from ser.splits import (
    NEVER_TEST,
    clean_clips,
    fold_sources,
    load_splits,
    make_splits,
    n_folds,
    save_splits,
)

LABELS = ["neutral", "happy", "sad", "angry"]
SPEAKERS = [f"{i:02d}" for i in range(1, 7)]


def table_meta(
    n_speakers: int = 6, clips: int = 5, snrs: tuple[int, ...] = (10, 0)
) -> pd.DataFrame:
    """Feature-table metadata: speakers x labels x clips clean rows plus their noisy copies."""
    rows = []
    for spk in SPEAKERS[:n_speakers]:
        for lab in LABELS:
            for c in range(clips):
                sid = f"Actor_{spk}/{lab}-{c}"
                rows.append((sid, sid, "toy", spk, lab, np.nan, None))
                for snr in snrs:
                    rows.append((f"{sid}#snr{snr:g}", sid, "toy", spk, lab, float(snr), "white"))
    return pd.DataFrame(
        rows, columns=["id", "source_id", "dataset", "speaker", "label", "snr_db", "noise"]
    )


def test_clean_clips_one_row_per_source() -> None:
    clips = clean_clips(table_meta())
    assert len(clips) == 6 * 4 * 5
    assert clips["source_id"].is_unique
    assert list(clips.columns) == ["source_id", "speaker", "label"]


def test_clean_clips_from_manifest_drops_rejected() -> None:
    man = pd.DataFrame(
        {
            "id": ["a", "b", "c"],
            "speaker": ["1", "1", "2"],
            "label": ["sad", "happy", None],
            "status": ["ok", "rejected", "ok"],
        }
    )
    clips = clean_clips(man)
    assert clips["source_id"].tolist() == ["a"]


def test_speaker_kfold_disjoint_and_stratified() -> None:
    df = table_meta()
    sp = make_splits(df, "speaker_kfold", folds=3, seed=0)
    assert sp.attrs["protocol"] == "speaker_kfold" and sp.attrs["leaky"] is False
    assert sorted(sp["fold"].unique()) == [0, 1, 2]
    # every speaker is test data in exactly one fold
    assert (sp.groupby("speaker")["fold"].nunique() == 1).all()
    # every fold contains every label (all speakers say all labels, so stratification is exact)
    counts = pd.crosstab(sp["fold"], sp["label"])
    assert (counts > 0).all().all()
    # noisy copies follow their source: joining the table onto the split by source_id
    joined = df.merge(sp[["source_id", "fold"]], on="source_id", how="left")
    assert joined["fold"].notna().all()
    for k in range(3):
        test_src = fold_sources(sp, k)
        test_rows = joined[joined["fold"] == k]
        train_rows = joined[joined["fold"] != k]
        assert set(test_rows["source_id"]) == test_src
        assert not set(test_rows["speaker"]) & set(train_rows["speaker"])
        assert not set(test_rows["source_id"]) & set(train_rows["source_id"])


def test_speaker_kfold_stratifies_imbalanced_labels() -> None:
    """With uneven label mixes per speaker, folds keep label shares closer than chance would."""
    rng = np.random.default_rng(1)
    rows = []
    for s in range(12):
        for c in range(30):
            lab = "sad" if rng.random() < (0.2 if s % 2 else 0.6) else "happy"
            rows.append((f"s{s}/c{c}", f"s{s}", lab))
    df = pd.DataFrame(rows, columns=["source_id", "speaker", "label"])
    sp = make_splits(df, "speaker_kfold", folds=3, seed=3)
    overall = (sp["label"] == "sad").mean()
    shares = sp.groupby("fold")["label"].apply(lambda s: (s == "sad").mean())
    assert (shares - overall).abs().max() < 0.08
    assert (sp.groupby("speaker")["fold"].nunique() == 1).all()


def test_speaker_kfold_seed_changes_assignment_deterministically() -> None:
    df = table_meta()
    a = make_splits(df, folds=3, seed=0)
    b = make_splits(df, folds=3, seed=0)
    pd.testing.assert_frame_equal(a, b)
    others = [make_splits(df, folds=3, seed=s)["fold"].tolist() for s in range(1, 6)]
    assert any(o != a["fold"].tolist() for o in others)


def test_speaker_kfold_too_many_folds_suggests_loso() -> None:
    with pytest.raises(ValueError, match="loso"):
        make_splits(table_meta(), "speaker_kfold", folds=7)
    with pytest.raises(ValueError, match="loso"):
        n_folds("speaker_kfold", SPEAKERS, 7)


def test_explicit_fold_speakers() -> None:
    fs = [["01", "02"], ["03", "04"], ["05", "06"]]
    sp = make_splits(table_meta(), "speaker_kfold", fold_speakers=fs)
    for k, group in enumerate(fs):
        assert set(sp.loc[sp["fold"] == k, "speaker"]) == set(group)
    assert n_folds("speaker_kfold", SPEAKERS, 5, fold_speakers=fs) == 3
    with pytest.raises(ValueError, match="no fold_speakers list"):
        make_splits(table_meta(), fold_speakers=[["01", "02"], ["03", "04"]])
    with pytest.raises(ValueError, match="not in the corpus"):
        make_splits(table_meta(), fold_speakers=[["01", "02", "03"], ["04", "05", "06", "99"]])


def test_loso_one_fold_per_speaker() -> None:
    sp = make_splits(table_meta(), "loso")
    assert sp.attrs["folds"] == 6 == n_folds("loso", SPEAKERS * 3)
    assert (sp.groupby("fold")["speaker"].nunique() == 1).all()
    assert sp.groupby("speaker")["fold"].first().to_dict() == {s: i for i, s in enumerate(SPEAKERS)}


def test_holdout_speakers() -> None:
    sp = make_splits(table_meta(), "holdout_speakers", holdout_speakers=["05", "06"])
    assert set(sp.loc[sp["fold"] == 0, "speaker"]) == {"05", "06"}
    assert set(sp.loc[sp["fold"] == NEVER_TEST, "speaker"]) == {"01", "02", "03", "04"}
    assert n_folds("holdout_speakers", SPEAKERS) == 1
    with pytest.raises(ValueError, match="not in the corpus"):
        make_splits(table_meta(), "holdout_speakers", holdout_speakers=["42"])


def test_random_is_stratified_and_marked_leaky() -> None:
    sp = make_splits(table_meta(), "random", test_size=0.25, seed=4)
    assert sp.attrs["leaky"] is True
    test = sp[sp["fold"] == 0]
    assert len(test) == 30
    per_label = test["label"].value_counts()
    assert set(per_label.index) == set(LABELS) and per_label.max() - per_label.min() <= 1
    # not speaker independent: test speakers also appear in training
    assert set(test["speaker"]) & set(sp.loc[sp["fold"] != 0, "speaker"])


def test_random_works_without_speakers_but_speaker_protocols_refuse() -> None:
    df = table_meta()
    df["speaker"] = None
    assert (make_splits(df, "random")["fold"] == 0).sum() > 0
    with pytest.raises(ValueError, match="speaker"):
        make_splits(df, "loso")


def test_unknown_protocol() -> None:
    with pytest.raises(ValueError, match="unknown split protocol"):
        make_splits(table_meta(), "by_phase_of_moon")


def test_save_load_roundtrip(tmp_path) -> None:
    sp = make_splits(table_meta(), "random", seed=2)
    path = tmp_path / "splits" / "toy.parquet"
    save_splits(sp, path, {"protocol": "random", "seed": 2, "smote": "none"})
    meta = json.loads(pq.read_schema(path).metadata[b"ser"])
    for key in ("protocol", "folds", "seed", "leaky", "smote"):
        assert key in meta
    assert meta["leaky"] is True
    back = load_splits(path)
    pd.testing.assert_frame_equal(back[["source_id", "fold"]], sp[["source_id", "fold"]])
    assert back.attrs["protocol"] == "random" and back.attrs["smote"] == "none"
    assert not list(tmp_path.glob("splits/.*"))  # no temp file left behind


def test_save_marks_smote_before_split_leaky(tmp_path) -> None:
    sp = make_splits(table_meta(), "speaker_kfold", folds=2)
    path = tmp_path / "s.parquet"
    save_splits(sp, path, {"smote": "train_only"})
    assert load_splits(path).attrs["leaky"] is False
    save_splits(sp, path, {"smote": "before_split"})
    assert load_splits(path).attrs["leaky"] is True


def test_save_keeps_computed_fold_count_over_config_echo(tmp_path) -> None:
    """The workflow passes its config (folds: 5) along; loso's real fold count must win."""
    sp = make_splits(table_meta(), "loso")
    path = tmp_path / "s.parquet"
    save_splits(sp, path, {"protocol": "loso", "folds": 5, "seed": 0, "smote": None})
    back = load_splits(path)
    assert back.attrs["folds"] == 6 and back.attrs["smote"] == "none"
    assert back.attrs["leaky"] is False
