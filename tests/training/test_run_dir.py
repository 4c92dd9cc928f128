"""Run folders: atomic writes, and nothing already written is overwritten."""

import os

import pytest

from sparseinit.training import run_dir
from sparseinit.training.config import TrainConfig


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    target = tmp_path / "f.json"
    run_dir.write_json(target, {"a": 1})

    def boom(fh):
        fh.write(b"partial")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        run_dir.atomic_write(target, boom)
    assert target.read_text().strip().replace(" ", "").replace("\n", "") == '{"a":1}'
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]  # no temporary left behind
    assert oct(os.stat(target).st_mode & 0o777) == "0o644"


def test_prepare_protects_existing_work(tmp_path):
    c = TrainConfig(dataset="synthetic", activation="crelu", sparsity=0.8)
    assert run_dir.prepare(tmp_path / "run", c, resume=False) == "new"
    with pytest.raises(ValueError, match="already holds an unfinished run of this config; pass --resume"):
        run_dir.prepare(tmp_path / "run", c, resume=False)
    assert run_dir.prepare(tmp_path / "run", c, resume=True) == "resume"
    other = TrainConfig(dataset="synthetic", activation="crelu", sparsity=0.9)
    with pytest.raises(ValueError, match=r"holds a different run \(sparsity: it has 0\.8, this run 0\.9\)"):
        run_dir.prepare(tmp_path / "run", other, resume=True)
    run_dir.write_json(tmp_path / "run" / run_dir.SUMMARY, {"status": "ok"})
    assert run_dir.prepare(tmp_path / "run", c, resume=True) == "finished"
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("precious")
    with pytest.raises(ValueError, match="holds files but no sparseinit run"):
        run_dir.prepare(tmp_path / "mine", c, resume=True)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "precious"


def test_prepare_and_reads_give_one_line_errors_naming_the_file(tmp_path):
    c = TrainConfig(dataset="synthetic")
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ValueError, match=r"cannot create output folder .*afile/run"):
        run_dir.prepare(tmp_path / "afile" / "run", c, resume=False)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / run_dir.CONFIG).write_text("{}")
    with pytest.raises(ValueError, match=r"empty/config.json is not a sparseinit run file: it lacks 'identity'"):
        run_dir.prepare(tmp_path / "empty", c, resume=True)
    (tmp_path / "empty" / run_dir.CONFIG).write_text("{oops")
    with pytest.raises(ValueError, match=r"empty/config.json is not valid JSON \(Expecting property name"):
        run_dir.prepare(tmp_path / "empty", c, resume=True)
    (tmp_path / "empty" / run_dir.CHECKPOINT).write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match=r"checkpoint\.pt cannot be read as a checkpoint .*move it away"):
        run_dir.load_checkpoint(tmp_path / "empty")
    assert (tmp_path / "empty" / run_dir.CHECKPOINT).read_bytes() == b"not a checkpoint"


def test_a_moved_data_set_resumes_and_is_recorded(tmp_path):
    c = TrainConfig(dataset="synthetic", data_root=str(tmp_path / "old"))
    assert run_dir.prepare(tmp_path / "run", c, resume=False) == "new"
    moved = TrainConfig(dataset="synthetic", data_root=str(tmp_path / "new"))
    assert moved.key() == c.key() == TrainConfig(dataset="synthetic").key()
    assert run_dir.prepare(tmp_path / "run", moved, resume=True) == "resume"
    saved = run_dir.read_json(tmp_path / "run" / run_dir.CONFIG)
    assert saved["config"]["data_root"] == str(tmp_path / "new")
    # a folder that holds only a sweep's record of a failed attempt takes the run
    (tmp_path / "failed").mkdir()
    (tmp_path / "failed" / run_dir.ERROR).write_text("Traceback ...")
    assert run_dir.prepare(tmp_path / "failed", c, resume=True) == "new"


def test_the_temporary_file_is_renamed_within_the_folder(tmp_path, monkeypatch):
    """os.replace is atomic only within one file system: the temporary file lies beside its target."""
    renames = []
    real = os.replace
    monkeypatch.setattr(os, "replace", lambda src, dst: (renames.append((src, dst)), real(src, dst))[1])
    run_dir.write_json(tmp_path / "f.json", {"a": 1})
    (src, dst), = renames
    assert os.path.dirname(src) == os.path.dirname(dst) == str(tmp_path) and os.path.basename(src).startswith(".")


def test_leftovers_and_older_records_do_not_block_a_run(tmp_path):
    import json

    c = TrainConfig(dataset="synthetic", activation="crelu", sparsity=0.8)
    # a temporary file a killed write left behind (hidden) is not "files of yours"
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / ".config.json.abc.tmp").write_text("partial")
    assert run_dir.prepare(tmp_path / "run", c, resume=False) == "new"
    # a config.json from a version that still recorded data_root in the identity resumes
    saved = tmp_path / "run" / run_dir.CONFIG
    record = json.loads(saved.read_text())
    record["identity"]["data_root"] = "/somewhere/else"
    saved.write_text(json.dumps(record))
    assert run_dir.prepare(tmp_path / "run", c, resume=True) == "resume"
    # a finished run's record is left as it is, whatever the resuming command says about where it runs
    run_dir.write_json(tmp_path / "run" / run_dir.SUMMARY, {"status": "ok"})
    before = saved.read_bytes()
    moved = TrainConfig(dataset="synthetic", activation="crelu", sparsity=0.8, data_root=str(tmp_path))
    assert run_dir.prepare(tmp_path / "run", moved, resume=True) == "finished"
    assert saved.read_bytes() == before
