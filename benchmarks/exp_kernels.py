"""numpy's exp against skexpreg's numba kernels, per element, both widths.

    python benchmarks/exp_kernels.py                 # this processor
    python benchmarks/exp_kernels.py --emulate-avx2  # its AVX-512 turned off

For float32 and float64, on one thread: nanoseconds per element of
``numpy.exp`` and of the kernel of :mod:`skexpreg._fastexp` (both in place,
best of ``--repeats``) on a block of typical pre-activations of the size of
one row block of workload W1 (4 MiB), their ratio, whether skexpreg's
one-off timing chooses the kernel here, and the largest error in units in
the last place (ulp) against the correctly rounded exp (float32: float64's
exp rounded; float64: numpy's, itself within one ulp) over the interval the
kernel serves. ``--emulate-avx2`` runs the measurement in a child process
with numpy's AVX-512 loops disabled and numba compiling for a Zen 2 core
without AVX-512 (``step_time.avx2_environment``). Needs numba.
"""

import argparse
import os
import subprocess
import sys
import time

import numpy as np

LIMITS = {np.float32: (-87.0, 88.0), np.float64: (-708.0, 709.0)}


def best_time(function, values, repeats):
    block = values.copy()
    best = np.inf
    for _ in range(repeats):
        block[:] = values
        start = time.perf_counter()
        function(block)
        best = min(best, time.perf_counter() - start)
    return best / values.size * 1e9


def ulps(result, exact):
    """|result - exact| in units in the last place, both of one float dtype."""
    signed = np.int32 if result.dtype == np.float32 else np.int64
    return np.abs(result.view(signed).astype(np.int64) - exact.view(signed))


def measure(repeats):
    from threadpoolctl import threadpool_limits

    from skexpreg import _fastexp

    print(
        f"{'dtype':<8} {'numpy ns':>9} {'kernel ns':>10} {'numpy/kernel':>13} "
        f"{'chosen':>7} {'max ulp kernel':>15} {'max ulp numpy':>14}"
    )
    for dtype in (np.float32, np.float64):
        kernel = _fastexp.load_kernel(dtype)
        if kernel is None:
            print(f"{dtype.__name__:<8} numba is not installed")
            continue
        values = np.linspace(-4.0, 4.0, 4 * 2**20 // np.dtype(dtype).itemsize)
        values = values.astype(dtype)
        with threadpool_limits(1):
            numpy_ns = best_time(lambda v: np.exp(v, out=v), values, repeats)
            kernel_ns = best_time(kernel, values, repeats)
        chosen = _fastexp._faster_than_numpy(kernel, dtype)
        low, high = LIMITS[dtype]
        x = np.linspace(low, high, 10_000_001).astype(dtype)
        if dtype == np.float32:
            exact = np.exp(x.astype(np.float64)).astype(np.float32)
        else:
            exact = np.exp(x)
        result = x.copy()
        assert not kernel(result)
        # float64's reference is numpy's exp itself
        numpy_ulps = ulps(np.exp(x), exact).max() if dtype == np.float32 else "-"
        print(
            f"{dtype.__name__:<8} {numpy_ns:>9.3f} {kernel_ns:>10.3f} "
            f"{numpy_ns / kernel_ns:>13.2f} {str(chosen):>7} "
            f"{ulps(result, exact).max():>15} {numpy_ulps:>14}"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--emulate-avx2", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from defaults import describe_machine
    from step_time import avx2_environment

    if args.emulate_avx2 and not args.child:
        print(describe_machine(1) + "; AVX2 emulated")
        command = [sys.executable, __file__, "--child", "--repeats", str(args.repeats)]
        env = {**os.environ, **avx2_environment()}
        sys.exit(subprocess.run(command, env=env).returncode)
    if not args.child:
        print(describe_machine(1))
    measure(args.repeats)


if __name__ == "__main__":
    main()
