"""Draws bench/results/overhead.png from overhead.json (written by `overhead report`).

Usage: python overhead_chart.py OVERHEAD_JSON OUTPUT_PNG

Top row: throughput in MB/s of raw clamd INSTREAM, the scan function and the whole flow for the
files of 1 MiB and more, at each concurrency, one panel per signature database. Bottom row: p50
latency of the small files, one at a time, for every mode (log scale, because clamscan loads the
database for each file).
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

RAW = "clamd INSTREAM"
SCAN = "scan function"
E2E = "end to end"
LATENCY_MODES = [
    RAW,
    "clamdscan --stream",
    SCAN,
    E2E,
    "clamscan per file",
]
COLOURS = {
    RAW: "#4c72b0",
    SCAN: "#dd8452",
    E2E: "#55a868",
    "clamdscan --stream": "#8172b3",
    "clamscan per file": "#c44e52",
}


def find(rows, db, mode, concurrency, size_class):
    for row in rows:
        if (
            row["db"] == db
            and row["mode"] == mode
            and row["concurrency"] == concurrency
            and row["class"] == size_class
        ):
            return row
    return None


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: overhead_chart.py OVERHEAD_JSON OUTPUT_PNG")
    with open(sys.argv[1], encoding="utf-8") as source:
        results = json.load(source)
    rows = results["rows"]
    run = results.get("run") or {}
    dbs = []
    for row in rows:
        if row["db"] not in dbs:
            dbs.append(row["db"])

    figure, axes = plt.subplots(2, len(dbs), figsize=(7 * len(dbs), 9), squeeze=False)
    for column, db in enumerate(dbs):
        axis = axes[0][column]
        labels = []
        groups = []
        for size_class in ["medium", "large"]:
            for concurrency in [1, 2, 4]:
                values = []
                for mode in [RAW, SCAN, E2E]:
                    row = find(rows, db, mode, concurrency, size_class)
                    values.append(row["mb_per_sec"] if row else 0.0)
                if any(values):
                    labels.append(f"{size_class}\nc={concurrency}")
                    groups.append(values)
        width = 0.27
        for index, mode in enumerate([RAW, SCAN, E2E]):
            positions = [g + (index - 1) * width for g in range(len(groups))]
            axis.bar(
                positions,
                [values[index] for values in groups],
                width,
                label=mode,
                color=COLOURS[mode],
            )
        axis.set_xticks(range(len(labels)))
        axis.set_xticklabels(labels)
        axis.set_ylabel("MB/s")
        axis.set_title(f"Files of 1 MiB and more, {db} database")
        axis.legend()

        axis = axes[1][column]
        names = []
        values = []
        for mode in LATENCY_MODES:
            row = find(rows, db, mode, 1, "small")
            if row:
                names.append(mode)
                values.append(row["latency_ms"]["p50"])
        axis.barh(names, values, color=[COLOURS[name] for name in names])
        axis.set_xscale("log")
        axis.set_xlabel("p50 latency, ms (log scale)")
        axis.set_title(f"Small files (4-256 KiB), one at a time, {db} database")
        axis.invert_yaxis()
        for position, value in enumerate(values):
            axis.text(value, position, f" {value:.1f}", va="center")

    figure.suptitle(
        f"What Filestore adds to clamd: run of {run.get('date', '?')} on "
        f"{run.get('cores', '?')} cores ({run.get('cpu', '')})"
    )
    figure.tight_layout()
    figure.savefig(sys.argv[2], dpi=110)


if __name__ == "__main__":
    main()
