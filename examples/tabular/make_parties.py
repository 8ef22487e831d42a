#!/usr/bin/python3
"""Splits scikit-learn's handwritten digits (1,797 8x8 images, 10 classes, shipped in Debian's
python3-sklearn) among N parties with label skew, one .npz per party, and scripts an MLP for them.

    make_parties.py OUT_DIR [--parties 4] [--alpha 0.5] [--seed 1]

Writes OUT_DIR/party-K.npz (x_train, y_train, x_test, y_test: that party's own samples),
OUT_DIR/test.npz (every party's test samples together, to compare models on), and
OUT_DIR/mlp.pt (a TorchScript MLP: 64 -> 64 -> 10; it scales the 0-16 pixel values itself, so
no party needs statistics of anyone else's data).
"""
import argparse
import os

import numpy as np
import torch
from sklearn.datasets import load_digits


class Mlp(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = torch.nn.Linear(64, 64)
        self.out = torch.nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(x.shape[0], 64) / 16.0
        return self.out(torch.relu(self.hidden(x)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out_dir")
    ap.add_argument("--parties", type=int, default=4)
    ap.add_argument("--alpha", type=float, default=2.0, help="Dirichlet concentration of each class over parties")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    os.makedirs(a.out_dir, exist_ok=True)
    rng = np.random.default_rng(a.seed)
    x, y = load_digits(return_X_y=True)
    x = x.astype(np.float32)
    y = y.astype(np.int64)
    # Each class is dealt among the parties in Dirichlet(alpha) proportions: label skew.
    owner = np.empty(len(y), dtype=np.int64)
    for c in range(10):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        share = rng.dirichlet([a.alpha] * a.parties)
        cuts = (np.cumsum(share)[:-1] * len(idx)).round().astype(int)
        for k, part in enumerate(np.split(idx, cuts)):
            owner[part] = k
    test_x, test_y = [], []
    for k in range(a.parties):
        idx = np.flatnonzero(owner == k)
        rng.shuffle(idx)
        cut = len(idx) // 5  # a fifth of each party's samples is its own test split
        te, tr = idx[:cut], idx[cut:]
        np.savez(os.path.join(a.out_dir, f"party-{k + 1}.npz"), x_train=x[tr], y_train=y[tr], x_test=x[te], y_test=y[te])
        test_x.append(x[te])
        test_y.append(y[te])
        counts = np.bincount(y[tr], minlength=10)
        print(f"party-{k + 1}.npz: {len(tr)} training samples (per class {counts.tolist()}), {len(te)} test")
    np.savez(os.path.join(a.out_dir, "test.npz"), x_test=np.concatenate(test_x), y_test=np.concatenate(test_y))
    torch.manual_seed(a.seed)
    torch.jit.script(Mlp()).save(os.path.join(a.out_dir, "mlp.pt"))
    print(f"mlp.pt: TorchScript MLP 64-64-10; test.npz: {sum(len(t) for t in test_y)} samples")


if __name__ == "__main__":
    main()
