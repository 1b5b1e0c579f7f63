"""Script glue: inputs as paths whatever their shape; what a job says lands in its log."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ser.smk import path, paths

ROOT = Path(__file__).resolve().parents[1]


def test_one_file_input_is_one_path_not_its_characters():
    assert paths("results/cross/a__b/m/folds/fold0.parquet") == [
        Path("results/cross/a__b/m/folds/fold0.parquet")]
    assert paths(["a.parquet", "b.parquet"]) == [Path("a.parquet"), Path("b.parquet")]
    assert paths(None) == [] and paths([]) == []
    assert path("x.parquet") == Path("x.parquet") and path(["x.parquet"]) == Path("x.parquet")
    with pytest.raises(ValueError, match="expected one file, got 2"):
        path(["a", "b"])


def test_snakemake_namedlist_shapes():
    from snakemake.iocontainers import InputFiles

    single = InputFiles(fromdict={"predictions": "p/fold0.parquet"})
    several = InputFiles(fromdict={"predictions": ["p/fold0.parquet", "p/fold1.parquet"]})
    assert paths(single.predictions) == [Path("p/fold0.parquet")]
    assert len(paths(several.predictions)) == 2


SCRIPT = textwrap.dedent("""
    import logging, os, subprocess, sys, warnings
    from types import SimpleNamespace
    from ser.smk import run

    class Log(list):
        pass

    sm = SimpleNamespace(log=Log([sys.argv[1]]), rule="demo_rule",
                         wildcards=SimpleNamespace(items=lambda: [("dataset", "d")]))

    def job():
        print("said on stdout (keras progress)")
        print("[progress] 1/2", file=sys.stderr)
        os.write(2, b"I0000 port.cc:153] oneDNN custom operations are on\\n")
        subprocess.run([sys.executable, "-c", "import sys; sys.stderr.write('child stderr\\\\n')"])
        logging.getLogger("tensorflow").warning("tf python warning")
        logging.getLogger("ser.train").info("fold 0: 12 clips")
        logging.getLogger("ser.train").warning("3 rows left out")
        warnings.warn("a library warning")
        if sys.argv[2] == "fail":
            raise ValueError("split.folds: 5 folds but 2 speakers\\nsecond line")
        return 0

    run(sm, job)
    print("after run: console again", file=sys.stderr)
""")


@pytest.mark.parametrize("mode", ["ok", "fail"])
def test_job_output_goes_to_the_log_and_only_progress_to_the_console(tmp_path, mode):
    script = tmp_path / "job.py"
    script.write_text(SCRIPT)
    log = tmp_path / "logs" / "job.log"
    proc = subprocess.run([sys.executable, str(script), str(log), mode], capture_output=True,
                          text=True, cwd=ROOT)
    console = proc.stdout + proc.stderr
    text = log.read_text()
    for line in ("said on stdout", "[progress] 1/2", "oneDNN custom operations", "child stderr",
                 "tf python warning", "fold 0: 12 clips", "3 rows left out",
                 "a library warning", "demo_rule (dataset=d): started"):
        assert line in text, line
    assert "[progress] 1/2" in console and "3 rows left out" in console
    for noise in ("oneDNN", "child stderr", "tf python warning", "said on stdout",
                  "a library warning", "fold 0: 12 clips"):
        assert noise not in console, noise
    if mode == "ok":
        assert proc.returncode == 0 and "after run: console again" in console
        assert "done in" in text
    else:
        assert proc.returncode == 1
        assert "Traceback" in text and "Traceback" not in console
        errors = [ln for ln in console.splitlines() if "error" in ln]
        assert errors == [f"error in demo_rule (dataset=d): split.folds: 5 folds but 2 speakers "
                          f"(log: {log})"]
