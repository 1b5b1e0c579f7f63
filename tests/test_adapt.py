"""Speaker grouping for `ser predict --adapt-by` (ser.adapt): unit tests on paths."""

from __future__ import annotations

import pytest

from ser.adapt import Grouping, assign, display_names, read_speaker_list, speaker_of
from ser.errors import UsageError


def test_folder_groups_by_parent_folder(tmp_path):
    paths = [str(tmp_path / "a" / "1.wav"), str(tmp_path / "a" / "2.wav"),
             str(tmp_path / "b" / "1.wav")]
    groups = speaker_of(paths, Grouping("folder"))
    assert groups[0] == groups[1] != groups[2]
    assert display_names(groups) == {str(tmp_path / "a"): "a", str(tmp_path / "b"): "b"}


def test_regex_takes_group_one_or_the_match_and_none_without_match():
    paths = ["x/Actor_01/03-01.wav", "y/Actor_01/x.wav", "z/other.wav"]
    assert speaker_of(paths, Grouping("regex", regex=r"Actor_(\d+)")) == ["01", "01", None]
    assert speaker_of(paths[:1], Grouping("regex", regex=r"Actor_\d+")) == ["Actor_01"]


def test_file_list_relative_to_the_list(tmp_path):
    lst = tmp_path / "speakers.csv"
    lst.write_text("path,speaker\nclips/a.wav,anna\n" + f"{tmp_path / 'b.wav'},bob\n")
    table = read_speaker_list(lst)
    assert table[str((tmp_path / "clips" / "a.wav").resolve())] == "anna"
    groups = speaker_of([str(tmp_path / "clips" / "a.wav"), str(tmp_path / "b.wav"),
                         str(tmp_path / "c.wav")], Grouping("file-list", file_list=str(lst)))
    assert groups == ["anna", "bob", None]


def test_assign_falls_back_below_min_clips_and_says_why():
    out = assign(["a"] * 3 + ["b"] + [None], min_clips=3)
    assert [a.mode for a in out] == ["adaptive"] * 3 + ["strict", "strict"]
    assert out[3].reason == "group has 1 clip(s), fewer than 3"
    assert out[4].reason == "no speaker group for this file"
    assert out[0].to_json() == {"group": "a", "n_group": 3, "mode": "adaptive"}


@pytest.mark.parametrize("grouping, words", [
    (Grouping("speaker"), "--adapt-by must be one of folder, regex, file-list"),
    (Grouping("regex"), "needs --speaker-regex"),
    (Grouping("regex", regex="("), "not a valid regular expression"),
    (Grouping("file-list"), "needs --speaker-list"),
    (Grouping("file-list", file_list="/nonexistent.csv"), "no such file"),
    (Grouping("folder", min_clips=1), "--adapt-min-clips must be >= 2"),
])
def test_bad_options_fail_in_one_line(grouping, words):
    with pytest.raises(UsageError, match=words):
        grouping.check()


def test_speaker_list_without_header_is_explained(tmp_path):
    lst = tmp_path / "s.csv"
    lst.write_text("a.wav,anna\n")
    with pytest.raises(UsageError, match="header with columns path,speaker"):
        read_speaker_list(lst)


# --------------------------------------------------------------------------- evaluation, report


def _pred_frame():  # -> pandas.DataFrame
    import pandas as pd

    rows = []
    for fold, spk in ((0, "a"), (1, "b")):
        for i, lab in enumerate(["x", "y", "x", "y"]):
            strict = lab if (fold == 0 or i < 2) else ("y" if lab == "x" else "x")
            rows.append({"id": f"{spk}{i}", "source_id": f"{spk}{i}", "fold": fold,
                         "snr_db": float("nan"), "noise": None, "true": lab, "predicted": lab,
                         "confidence": 0.9, "prob_x": 0.5, "prob_y": 0.5, "speaker": spk,
                         "strict_predicted": strict})
    return pd.DataFrame(rows)


def test_strict_twin_figures_beside_the_adaptive_ones():
    from ser.evaluate import compute_metrics, strict_twin_metrics

    pred = _pred_frame()
    s = strict_twin_metrics(pred)
    assert s["per_fold"] == [1.0, 0.5] and s["folds_mean"] == 0.75 and s["uar"] == 0.75
    assert s["uar_interval"]["unit"] == "speaker"
    m = compute_metrics(pred, ["x", "y"])
    assert m["adaptive"]["per_fold"] == [1.0, 1.0] and m["strict"]["folds_mean"] == 0.75
    assert strict_twin_metrics(pred.drop(columns="strict_predicted")) is None


def test_report_labels_adaptive_rows_with_their_strict_figure():
    from ser.report import _uar_text

    row = {"uar_mean": 0.83, "uar_std": 0.04, "mode": "adaptive", "strict_uar_mean": 0.73,
           "strict_uar_std": 0.05}
    assert _uar_text(row) == "adaptive 0.830 ± 0.040 (strict 0.730 ± 0.050)"
    assert _uar_text({**row, "mode": "strict"}) == "0.830 ± 0.040"


# --------------------------------------------------------------------------- late fusion


def test_late_fusion_member_C_and_stacking_by_inner_cv_over_speakers(tmp_path):
    import numpy as np

    from ser.models import build, load

    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 30)
    X = rng.normal(size=(120, 12)).astype("f4")
    X[:, :3] += y[:, None] * 0.8  # the first block carries the classes, the second is noise
    groups = np.tile(np.arange(6), 20)
    m = build("late_fusion", (12,), 4, {"blocks": [6, 6], "member_C": [0.001, 1.0],
                                        "combine": "stack", "meta_C": [0.01, 1.0]})
    m.fit(X, y, groups=groups)
    assert len(m.chosen_C) == 2 and m.members[0].params["C"] in (0.001, 1.0)
    assert m.inner_groups == "speaker"
    p = m.predict_proba(X)
    assert (p.argmax(1) == y).mean() > 0.5
    m.save(tmp_path / "m")
    assert (tmp_path / "m" / "meta" / "model.json").is_file()
    np.testing.assert_array_equal(load(tmp_path / "m").predict_proba(X), p)
    with pytest.raises(ValueError, match="combine must be one of mean, stack"):
        build("late_fusion", (12,), 4, {"blocks": [6, 6], "combine": "vote"})
