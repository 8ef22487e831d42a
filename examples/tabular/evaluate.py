#!/usr/bin/python3
"""Accuracy of an exported model on the parties' pooled test samples, beside the same MLP
trained centrally on the union of their training data (what federation is measured against).

    evaluate.py DIR MODEL.pt [--epochs-total E] [--lr LR]

DIR is make_parties.py's output. MODEL.pt is a TorchScript module (fednode ctl ... export-model
--format torchscript): it loads with torch.jit.load, no class definition needed.
"""
import argparse
import glob
import os

import numpy as np
import torch


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        return float((model(torch.from_numpy(x)).argmax(1).numpy() == y).mean())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir")
    ap.add_argument("model")
    ap.add_argument("--epochs-total", type=int, default=20, help="central epochs (rounds x local epochs)")
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--batch-size", type=int, default=32)
    a = ap.parse_args()
    test = np.load(os.path.join(a.dir, "test.npz"))
    xt, yt = test["x_test"], test["y_test"]
    federated = accuracy(torch.jit.load(a.model), xt, yt)
    parts = [np.load(p) for p in sorted(glob.glob(os.path.join(a.dir, "party-*.npz")))]
    x = np.concatenate([p["x_train"] for p in parts])
    y = np.concatenate([p["y_train"] for p in parts])
    torch.manual_seed(1)
    central = torch.jit.load(os.path.join(a.dir, "mlp.pt"))
    opt = torch.optim.SGD(central.parameters(), lr=a.lr, momentum=0.9)
    rng = np.random.default_rng(1)
    for _ in range(a.epochs_total):
        central.train()
        order = rng.permutation(len(y))
        for s in range(0, len(order), a.batch_size):
            b = order[s:s + a.batch_size]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(central(torch.from_numpy(x[b])), torch.from_numpy(y[b]))
            loss.backward()
            opt.step()
    print(f"federated {federated:.4f} central {accuracy(central, xt, yt):.4f} test_samples {len(yt)}")


if __name__ == "__main__":
    main()
