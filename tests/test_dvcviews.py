"""`ser dvc-metrics`: the metrics/ views DVC reads."""

import json

from ser.cli import main


def test_views_summarise_eval_and_cross(tmp_path):
    res = tmp_path / "results"
    for kind, group in (("eval", "demo"), ("cross", "a__b")):
        d = res / kind / group / "svm"
        d.mkdir(parents=True)
        (d / "metrics.json").write_text(json.dumps(
            {"uar": 0.5, "accuracy": 0.6, "macro_f1": 0.4, "n_test": 10, "per_class": {}}))
        (d / "confusion.csv").write_text("actual,predicted\nangry,sad\n")
        (d / "snr.csv").write_text("snr,accuracy,uar\nclean,0.6,0.5\n0,0.2,0.2\n")
    assert main(["dvc-metrics", str(res), str(tmp_path / "metrics")]) == 0
    summary = json.loads((tmp_path / "metrics" / "metrics.json").read_text())
    assert summary == {"demo": {"svm": {"uar": 0.5, "accuracy": 0.6, "macro_f1": 0.4,
                                        "n_test": 10}},
                       "cross:a__b": {"svm": {"uar": 0.5, "accuracy": 0.6, "macro_f1": 0.4,
                                              "n_test": 10}}}
    snr = (tmp_path / "metrics" / "snr" / "demo" / "svm.csv").read_text()
    assert snr == "snr,accuracy,uar\n0,0.2,0.2\n"  # the clean row has no numeric SNR
    assert (tmp_path / "metrics" / "confusion" / "cross:a__b" / "svm.csv").is_file()
