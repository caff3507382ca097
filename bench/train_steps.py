#!/usr/bin/python3
# The PyTorch peer of bench_train_steps (issue 6 "Performance"): the same STSTNet (plugins/backbones/ststnet),
# the same shared linear head, Adam, batch 32 of [3, 28, 28] drawn from a shuffled in-memory set, one
# forward / cross-entropy / zero_grad / backward / step per batch. Run with Debian's python3-torch (PyTorch
# 1.13 over the same LibTorch). Prints one line: `steps_per_second <value>` (best of --repeats timed runs).
#   /usr/bin/python3 bench/train_steps.py --threads 1 --steps 300 --repeats 3
import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class STSTNet(nn.Module):
    """Liong et al., FG 2019; features [B, 400] at 28 x 28, as the merx plugin."""

    def __init__(self, channels=3, dropout=0.5):
        super().__init__()
        self.convs = nn.ModuleList([nn.Conv2d(channels, w, 3, padding=2) for w in (3, 5, 8)])
        self.bns = nn.ModuleList([nn.BatchNorm2d(w) for w in (3, 5, 8)])
        self.dropout = dropout

    def forward(self, x):
        streams = []
        for conv, bn in zip(self.convs, self.bns):
            h = bn(F.relu(conv(x)))
            h = F.max_pool2d(h, 3, stride=3, padding=1)
            streams.append(F.dropout(h, self.dropout, self.training))
        return F.avg_pool2d(torch.cat(streams, 1), 2, stride=2).flatten(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch", type=int, default=32)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    n = 640
    x = torch.randn(n, 3, 28, 28)
    y = torch.randint(0, 3, (n,))
    backbone, head = STSTNet(), nn.Linear(400, 3)
    opt = torch.optim.Adam(list(backbone.parameters()) + list(head.parameters()), lr=1e-3)
    backbone.train()

    def run(steps):
        done = 0
        while done < steps:
            perm = torch.randperm(n)
            for lo in range(0, n - a.batch + 1, a.batch):
                if done == steps:
                    break
                idx = perm[lo:lo + a.batch]
                loss = F.cross_entropy(head(backbone(x[idx])), y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                loss.item()  # the engine reads every loss value too
                done += 1

    run(30)  # warm-up: oneDNN primitives, allocator
    best = 0.0
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        run(a.steps)
        best = max(best, a.steps / (time.perf_counter() - t0))
    print(f"steps_per_second {best:.3f}")


if __name__ == "__main__":
    main()
