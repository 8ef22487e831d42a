#!/usr/bin/python3
"""The CIFAR-10 CNN and training loop of fednode's train-local, in PyTorch-Python, for a side by
side throughput comparison (bench/train-throughput.sh). Prints images/s per epoch. --script-out
writes the same network as TorchScript (what a party brings with --model); --module trains such
a file in Python."""
import argparse
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MEAN = np.array([0.4914, 0.4822, 0.4465], dtype=np.float32).reshape(1, 3, 1, 1)
STD = np.array([0.2470, 0.2435, 0.2616], dtype=np.float32).reshape(1, 3, 1, 1)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


def load(directory):
    raw = b"".join(open(f"{directory}/data_batch_{i}.bin", "rb").read() for i in range(1, 6))
    rec = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3073)
    return rec[:, 1:].reshape(-1, 3, 32, 32), rec[:, 0].astype(np.int64)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dataset-dir")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--script-out", help="write the network as TorchScript (torch.jit.script) to this file and exit")
    p.add_argument("--module", help="train this TorchScript file (torch.jit.load) instead of the eager network")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    if a.script_out:
        torch.jit.script(Net()).save(a.script_out)
        return
    pixels, labels = load(a.dataset_dir)
    net = torch.jit.load(a.module) if a.module else Net()
    net.train()
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(1)
    for epoch in range(1, a.epochs + 1):
        start = time.perf_counter()
        order = rng.permutation(len(labels))
        for b in range(0, len(order), 32):
            idx = order[b:b + 32]
            x = torch.from_numpy((pixels[idx].astype(np.float32) / 255.0 - MEAN) / STD)
            y = torch.from_numpy(labels[idx])
            opt.zero_grad()
            loss = F.cross_entropy(net(x), y)
            loss.backward()
            opt.step()
        secs = time.perf_counter() - start
        print(f"epoch {epoch} {len(labels) / secs:.0f} images/s")


if __name__ == "__main__":
    main()
