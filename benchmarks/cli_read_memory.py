"""Peak memory of the command line's CSV reading, against the file's size.

Writes a CSV (by default 1,000,000 rows: six numeric columns, a text column
with 12 categories, one with 300, and a numeric target; about 76 MiB) to a
temporary directory and reads it in a fresh process the way
``python -m skexpreg --data FILE --target y`` does, up to the float64
matrix the model sees. Prints the file size, the peak resident memory of
that process, the peak of a process that only imports the same modules,
and the reading time::

    python benchmarks/cli_read_memory.py [--rows N]

Before the column-wise reader (rows as lists of strings, ``X`` as an object
array), the default file peaked at 1,326 MiB RSS (193 MiB of it imports)
and took 12.0 s on the reference machine.
"""

import argparse
import csv
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

_READ = """
import resource, sys, time
from skexpreg._cli_data import read_header, read_table, training_data
start = time.perf_counter()
if sys.argv[1] == "read":
    features, y = training_data(read_table(sys.argv[2], read_header(sys.argv[2])), "y")
print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def write_csv(path, n_rows, seed=0):
    rng = np.random.default_rng(seed)
    colours = [f"colour{i}" for i in range(12)]
    towns = [f"town{i}" for i in range(300)]
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([f"x{i}" for i in range(6)] + ["colour", "town", "y"])
        for start in range(0, n_rows, 100_000):
            size = min(100_000, n_rows - start)
            X = rng.normal(size=(size, 6))
            colour = rng.integers(0, len(colours), size)
            town = rng.integers(0, len(towns), size)
            y = X.sum(axis=1) + colour
            writer.writerows(
                [f"{value:.6g}" for value in X[i]]
                + [colours[colour[i]], towns[town[i]], f"{y[i]:.6g}"]
                for i in range(size)
            )


def measure(mode, path):
    """``(seconds, peak RSS in MiB)`` of a fresh process in ``mode``."""
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, "-c", _READ, mode, str(path)],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(root), "PATH": ""},
    )
    seconds, kib = result.stdout.split()
    return float(seconds), int(kib) / 1024  # ru_maxrss is in KiB on Linux


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "data.csv"
        start = time.perf_counter()
        write_csv(path, args.rows)
        print(f"wrote {args.rows} rows in {time.perf_counter() - start:.1f} s")
        size = path.stat().st_size / 2**20
        _, imports = measure("imports", path)
        seconds, peak = measure("read", path)
    matrix = args.rows * 8 * 8 / 2**20  # X: 8 features; y: 1 column
    print(f"CSV file:                       {size:8.1f} MiB")
    print(f"float64 X and y:                {matrix + args.rows * 8 / 2**20:8.1f} MiB")
    print(f"peak RSS, imports only:         {imports:8.1f} MiB")
    print(f"peak RSS, imports and reading:  {peak:8.1f} MiB ({seconds:.1f} s)")
    print(f"reading added:                  {peak - imports:8.1f} MiB")


if __name__ == "__main__":
    main()
