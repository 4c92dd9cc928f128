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
