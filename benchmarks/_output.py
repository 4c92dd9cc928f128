"""The JSON output shared by the benchmark scripts: ``--json PATH [--overwrite]``, never replacing a file unasked."""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path
from typing import Any

import torch


def add_json_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", type=Path, help="write the results as JSON to this path")
    p.add_argument("--overwrite", action="store_true", help="allow --json to replace an existing file")


def check_json(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse, before anything is measured, a --json path that exists without --overwrite."""
    if args.json and args.json.exists() and not args.overwrite:
        p.error(f"{args.json} exists; pass --overwrite to replace it")


def config_of(args: argparse.Namespace) -> dict[str, Any]:
    return {k: v for k, v in vars(args).items() if k not in ("json", "overwrite")}


def environment() -> dict[str, str]:
    return {"torch": torch.__version__, "cpu": platform.processor() or platform.machine()}


def write_json(args: argparse.Namespace, out: dict[str, Any]) -> None:
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2) + "\n")
        print(f"wrote {args.json}")
