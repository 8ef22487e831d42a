#!/usr/bin/python3
"""Makes one image folder of PNGs per party from Fashion-MNIST (Debian's dataset-fashion-mnist),
with label skew, and scripts a small ResNet-style network with BatchNorm for them.

    make_parties.py OUT_DIR [--parties 4] [--per-party 1500] [--alpha 1.0] [--seed 1]

Writes OUT_DIR/party-K/{train,test}/<class>/*.png and OUT_DIR/party-K/classes.txt (the same
class list for every party, so a label means the same everywhere even where a party lacks a
class), and OUT_DIR/resnet.pt (TorchScript: two residual stages with BatchNorm, 1x28x28 -> 10).
"""
import argparse
import gzip
import os

import numpy as np
import torch
from PIL import Image

CLASSES = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot"]


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


class Block(torch.nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(cout)
        self.conv2 = torch.nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(cout)
        self.skip = torch.nn.Sequential()
        if stride != 1 or cin != cout:
            self.skip = torch.nn.Sequential(torch.nn.Conv2d(cin, cout, 1, stride, bias=False), torch.nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(y)) + self.skip(x))


class SmallResNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = torch.nn.Sequential(torch.nn.Conv2d(1, 16, 3, 1, 1, bias=False), torch.nn.BatchNorm2d(16), torch.nn.ReLU())
        self.stage1 = Block(16, 16, 1)
        self.stage2 = Block(16, 32, 2)
        self.fc = torch.nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stage2(self.stage1(self.stem(x)))
        return self.fc(torch.flatten(torch.nn.functional.adaptive_avg_pool2d(x, 1), 1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out_dir")
    ap.add_argument("--parties", type=int, default=4)
    ap.add_argument("--per-party", type=int, default=1500, help="training images per party (a fifth as many test images)")
    ap.add_argument("--alpha", type=float, default=1.0, help="Dirichlet concentration of each party's class mix")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--source", default="/usr/share/datasets/fashion-mnist")
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    x = read_idx(os.path.join(a.source, "train-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(a.source, "train-labels-idx1-ubyte.gz"))
    by_class = [list(rng.permutation(np.flatnonzero(y == c))) for c in range(10)]
    for k in range(a.parties):
        root = os.path.join(a.out_dir, f"party-{k + 1}")
        mix = rng.dirichlet([a.alpha] * 10)  # this party's class mix: label skew
        for split, n in (("train", a.per_party), ("test", a.per_party // 5)):
            counts = rng.multinomial(n, mix)
            for c, count in enumerate(counts):
                folder = os.path.join(root, split, CLASSES[c])
                os.makedirs(folder, exist_ok=True)
                for i in range(count):
                    Image.fromarray(x[by_class[c].pop()]).save(os.path.join(folder, f"{i:05d}.png"))
        with open(os.path.join(root, "classes.txt"), "w") as f:
            f.write("\n".join(CLASSES) + "\n")
        print(f"party-{k + 1}: {a.per_party} training and {a.per_party // 5} test PNGs, class mix {np.round(mix, 2).tolist()}")
    torch.manual_seed(a.seed)
    torch.jit.script(SmallResNet()).save(os.path.join(a.out_dir, "resnet.pt"))
    print("resnet.pt: TorchScript ResNet-style network with BatchNorm, 1x28x28 -> 10 classes")


if __name__ == "__main__":
    main()
