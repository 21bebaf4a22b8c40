"""Write an FSDD manifest whose test split is every recording of one speaker (the others
train), for searches validated on unseen speakers (``--group-pattern '^\\d_([a-z]+)_'``).

    python benchmarks/fsdd_held_out.py theo theo_out.csv

Reads ../shared/data/fsdd/recordings (or --data FOLDER); paths in the manifest are absolute.
"""

from __future__ import annotations

import argparse
from pathlib import Path

SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "fsdd"
    parser.add_argument("speaker", choices=SPEAKERS)
    parser.add_argument("manifest", type=Path)
    parser.add_argument("--data", type=Path, default=(default / "recordings").resolve())
    args = parser.parse_args()
    rows = ["path,label,split"]
    for file in sorted(args.data.glob("*.wav")):
        digit, speaker, _ = file.stem.split("_")
        rows.append(f"{file},{digit},{'test' if speaker == args.speaker else 'train'}")
    args.manifest.write_text("\n".join(rows) + "\n")
    print(f"{args.manifest}: {len(rows) - 1} recordings, {args.speaker} held out")


if __name__ == "__main__":
    main()
