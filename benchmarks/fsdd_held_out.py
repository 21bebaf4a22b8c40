"""Write an FSDD manifest whose test split is every recording of one speaker (the others
train), for searches validated on unseen speakers (``--group-pattern '^\\d_([a-z]+)_'``).

    python benchmarks/fsdd_held_out.py theo theo_out.csv

Reads ../shared/data/fsdd/recordings (or --data FOLDER); paths in the manifest are absolute.
"""

from __future__ import annotations

import argparse
from pathlib import Path

SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")
DEFAULT_RECORDINGS = (
    Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "fsdd" / "recordings"
).resolve()


def manifest_rows(recordings: Path, speaker: str) -> list[str]:
    """The manifest's lines (header first): ``path,label,split``, ``speaker``'s recordings
    in the test split, every other one in the training split."""
    rows = ["path,label,split"]
    for file in sorted(recordings.glob("*.wav")):
        digit, who, _ = file.stem.split("_")
        rows.append(f"{file},{digit},{'test' if who == speaker else 'train'}")
    return rows


def write_manifest(recordings: Path, speaker: str, manifest: Path) -> int:
    """Write ``speaker``'s held-out manifest to ``manifest``; the number of recordings."""
    rows = manifest_rows(recordings, speaker)
    manifest.write_text("\n".join(rows) + "\n")
    return len(rows) - 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("speaker", choices=SPEAKERS)
    parser.add_argument("manifest", type=Path)
    parser.add_argument("--data", type=Path, default=DEFAULT_RECORDINGS)
    args = parser.parse_args()
    count = write_manifest(args.data, args.speaker, args.manifest)
    print(f"{args.manifest}: {count} recordings, {args.speaker} held out")


if __name__ == "__main__":
    main()
