"""Time and peak memory of the checkpoint reader on every crafted file of the adversarial corpus.

Builds the corpus of ``tests/models/_corpus.py`` in a temporary folder and loads each file in one process under
a 1 GiB address-space cap (``tests/models/_reader_harness.py``). Per case it records the outcome, the wall time
and the peak resident memory above what the process held before the case (Linux ``VmHWM``, reset per case).
Writes ``benchmarks/results/reader_adversarial_cpu.{json,md}``. Runs in under a minute on a 2-core CPU.

  python -m benchmarks.reader_adversarial
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from benchmarks import _report
from tests.models import _corpus


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
  args = parser.parse_args(argv)
  with tempfile.TemporaryDirectory() as tmp:
    manifest, expect = _corpus.build(Path(tmp))
    outcomes = _corpus.run(manifest, Path(tmp) / "outcomes.jsonl")
    sizes = {p.stem: p.stat().st_size for p in Path(tmp).iterdir()}
  rows = []
  for o in outcomes:
    rows.append({"case": o["name"], "file bytes": sizes.get(o["name"], 0), "outcome": o.get("type", o["status"]),
                 "expected": expect[o["name"]][0], "seconds": round(o["seconds"], 4),
                 "peak MiB": None if o["peak_bytes"] is None else round(o["peak_bytes"] / 2**20, 2),
                 "honest unchanged": o["honest_unchanged"]})
  slowest = max(rows, key=lambda r: r["seconds"])
  largest = max(rows, key=lambda r: r["peak MiB"] or 0)
  payload = {"cases": rows, "slowest": slowest, "largest_peak": largest,
             "all_as_expected": all(r["outcome"] == r["expected"] or (r["expected"] == "view" and r["outcome"] ==
                                                                       "loaded") for r in rows)}
  table = _report.markdown_table(rows, ["case", "file bytes", "outcome", "seconds", "peak MiB", "honest unchanged"])
  summary = (f"\nSlowest: {slowest['case']} {slowest['seconds']} s. Largest peak: {largest['case']} "
             f"{largest['peak MiB']} MiB above the resident size before the case. All as expected: "
             f"{payload['all_as_expected']}.\n")
  path = _report.write(args.out, "reader_adversarial_cpu", payload, table + summary,
                       "Checkpoint reader on crafted files (1 GiB address-space cap)")
  print(table + summary + f"wrote {path}")


if __name__ == "__main__":
  main()
