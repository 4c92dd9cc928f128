"""Training runs, sweeps and their reports (issue 3 §3): :mod:`.config` (:class:`~.config.TrainConfig`, one schema
for the CLI, sweep files and Python), :mod:`.loop` (:func:`~.loop.train`), :mod:`.run_dir` (run folders, atomic
checkpoints, resume), :mod:`.distributed` (torch.distributed data parallel), :mod:`.sweep`, :mod:`.report` and
:mod:`.trained` (a finished run loaded back). The public entry points are re-exported from :mod:`sparseinit`."""
