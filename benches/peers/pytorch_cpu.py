"""PyTorch (CPU) and NumPy/OpenBLAS on the workloads of `examples/bench_report.rs`, timed the same
way (median of repeated runs after a warm-up), so the two tables can be set side by side.

    python3 benches/peers/pytorch_cpu.py             # all workloads, a markdown table
    python3 benches/peers/pytorch_cpu.py softmax     # one workload: "<PyTorch> <NumPy or nan>"

`cargo run --release --example bench_report -- --peers` calls the second form between its own
CPU and GPU runs of each workload, so Soma and the peers are measured in one run.
"""
import statistics
import sys
import time

import numpy as np
import torch


# How long a workload runs before it is timed, as in bench_report.rs (`WARM_UP` there says why).
WARM_UP = 0.3


def median_seconds(fn, runs):
    start = time.perf_counter()
    fn()
    while time.perf_counter() - start < WARM_UP:
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def matmul(n):
    a, b = torch.randn(n, n), torch.randn(n, n)
    an, bn = a.numpy(), b.numpy()
    flops = 2.0 * n**3
    return flops / median_seconds(lambda: a @ b, 5) / 1e9, flops / median_seconds(lambda: an @ bn, 5) / 1e9


def relu_add():
    a, b = torch.randn(4 << 20), torch.randn(4 << 20)
    an, bn = a.numpy(), b.numpy()
    nbytes = 3 * 4 * (4 << 20)
    torch_s = median_seconds(lambda: torch.relu(a + b), 10)
    numpy_s = median_seconds(lambda: np.maximum(an + bn, 0.0), 10)
    return nbytes / torch_s / 1e9, nbytes / numpy_s / 1e9


def softmax():
    x = torch.randn(4096, 1024)
    return median_seconds(lambda: torch.softmax(x, dim=1), 10) * 1e3, None


def mlp_step():
    model = torch.nn.Sequential(
        torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10)
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    xb, yb = torch.randn(128, 784), torch.arange(128) % 10

    def step():
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(xb), yb).backward()
        opt.step()

    return median_seconds(step, 50) * 1e3, None


# Key (as bench_report passes it) -> (name, unit, function returning (PyTorch, NumPy or None)).
WORKLOADS = {
    "matmul1024": ("matmul 1024³", "GFLOP/s", lambda: matmul(1024)),
    "matmul2048": ("matmul 2048³", "GFLOP/s", lambda: matmul(2048)),
    "relu_add": ("relu(a+b), 4M elements", "GB/s", relu_add),
    "softmax": ("softmax [4096, 1024]", "ms", softmax),
    "mlp_step": ("MLP 784-256-128-10 train step, batch 128, Adam", "ms", mlp_step),
}


def main():
    torch.manual_seed(1)
    if len(sys.argv) > 1:
        # One workload, for bench_report --peers: "<PyTorch> <NumPy or nan>".
        torch_fig, numpy_fig = WORKLOADS[sys.argv[1]][2]()
        print(f"{torch_fig} {numpy_fig if numpy_fig is not None else float('nan')}")
        return
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; numpy {np.__version__}")
    print("| workload | unit | PyTorch CPU | NumPy |")
    print("|---|---|---|---|")
    for name, unit, run in WORKLOADS.values():
        torch_fig, numpy_fig = run()
        numpy_text = f"{numpy_fig:.2f}" if numpy_fig is not None else "—"
        print(f"| {name} | {unit} | {torch_fig:.2f} | {numpy_text} |")


if __name__ == "__main__":
    main()
