"""A run's folder: config.json, rounds.jsonl, events.jsonl, summary.json, checkpoint.pt.

Nothing already written is lost: a folder that exists is refused unless the
user asks to overwrite it or to resume it; JSON files are written to a temporary
name and renamed; JSONL lines are appended, flushed and fsynced one at a time, so
a run killed at any moment leaves valid files covering every completed round.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from .errors import ConfigError


def write_json_atomic(path: Path, obj) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2, default=_jsonable)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_jsonl(path: Path) -> list[dict]:
    """Every complete line of a JSONL file (a torn last line is ignored)."""
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return records


def _jsonable(value):
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


class RunFolder:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.rounds_path = self.path / "rounds.jsonl"
        self.events_path = self.path / "events.jsonl"
        self.checkpoint_path = self.path / "checkpoint.pt"

    @classmethod
    def create(cls, config) -> "RunFolder":
        """A new folder under log_dir; refuses to replace an earlier run unless `overwrite`."""
        root = Path(config.log_dir)
        if root.exists() and not root.is_dir():
            raise ConfigError("log_dir", config.log_dir, "a folder (this path is a file)")
        if config.run_name:
            path = root / config.run_name
            if path.exists():
                if not config.overwrite:
                    raise ConfigError("run_name", config.run_name,
                                      f"a name not used yet under {root} (it holds an earlier run); "
                                      "pass --overwrite true to replace it, or --resume to continue it")
                shutil.rmtree(path)
        else:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            base = f"{config.system}-{config.scheduler}-{config.dataset}-seed{config.seed}-{stamp}"
            path, n = root / base, 1
            while path.exists():
                n += 1
                path = root / f"{base}-{n}"
        path.mkdir(parents=True)
        return cls(path)

    def write_config(self, config_dict: dict) -> None:
        write_json_atomic(self.path / "config.json", config_dict)

    def append(self, path: Path, records: list[dict]) -> None:
        with open(path, "a") as f:
            for record in records:
                f.write(json.dumps(record, default=_jsonable) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def truncate_rounds(self, rounds: int) -> None:
        """Keep only the first `rounds` round records (and their events), for resume."""
        write_lines(self.rounds_path, read_jsonl(self.rounds_path)[:rounds])
        if self.events_path.exists():
            write_lines(self.events_path, [e for e in read_jsonl(self.events_path) if e["round"] <= rounds])

    def write_summary(self, summary: dict) -> None:
        write_json_atomic(self.path / "summary.json", summary)


def write_lines(path: Path, records: list[dict]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        for record in records:
            f.write(json.dumps(record, default=_jsonable) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
