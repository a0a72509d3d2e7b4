"""Plain PyTorch re-implementation of FFLib's competitive FF CNN (ffcnn --objective competitive, docs/cnn.md),
the baseline of the CNN speed benchmark (bench/FFLib.Benchmarks: cnn --torch). Same network and loop:
per layer x_hat = x * sqrt(D) / (||x|| + 1e-4) over the image's whole input map, h = ReLU(conv(x_hat) + b)
("same" padding), class goodness = mean of h^2 over the class's contiguous channels and all positions,
loss = cross-entropy of the goodnesses, one Adam step per layer, the layer's output recomputed with the new
weights, then 2x2 max-pooling where the stack says so; prediction by the last layer's goodnesses.

Usage:
  OPENBLAS_CORETYPE=SkylakeX python3 cnn_torch.py MNIST_DIR [--layers 40,80,160] [--conv 5p,3p,3] [--lr 0.003]
      [--batch 64] [--epochs 1] [--train-limit N] [--test-limit N] [--device cpu|cuda]
(--device cuda: the GPU check's baseline; the data then lives on the GPU and the times wait for it.)
Prints one line: "train SECONDS, test SECONDS, accuracy FRACTION".
"""
import sys, time
import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(2)


def read_idx(path):
    import gzip, os
    if os.path.exists(path):
        with open(path, "rb") as f:
            data = f.read()
    else:  # the GPU check ships the files gzipped
        with gzip.open(path + ".gz", "rb") as f:
            data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def option(name, default):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def main():
    d = sys.argv[1]
    channels = [int(c) for c in option("--layers", "40,80,160").split(",")]
    specs = option("--conv", "5p,3p,3").split(",")
    kernels = [int(s.rstrip("p")) for s in specs]
    pools = [s.endswith("p") for s in specs]
    lr, batch, epochs = float(option("--lr", "0.003")), int(option("--batch", "64")), int(option("--epochs", "1"))
    tl, te = int(option("--train-limit", "60000")), int(option("--test-limit", "10000"))
    classes = 10
    dev = torch.device(option("--device", "cpu"))
    torch.manual_seed(0)
    xi = torch.tensor(read_idx(f"{d}/train-images-idx3-ubyte")[:tl].reshape(-1, 1, 28, 28), dtype=torch.float32) / 255
    yi = torch.tensor(read_idx(f"{d}/train-labels-idx1-ubyte")[:tl].astype(np.int64))
    xt = torch.tensor(read_idx(f"{d}/t10k-images-idx3-ubyte")[:te].reshape(-1, 1, 28, 28), dtype=torch.float32) / 255
    yt = torch.tensor(read_idx(f"{d}/t10k-labels-idx1-ubyte")[:te].astype(np.int64))
    xi, yi, xt, yt = xi.to(dev), yi.to(dev), xt.to(dev), yt.to(dev)

    convs, cin = [], 1
    for c, k in zip(channels, kernels):
        convs.append(torch.nn.Conv2d(cin, c, k, padding=k // 2).to(dev))
        cin = c
    opts = [torch.optim.Adam(c.parameters(), lr=lr) for c in convs]
    owner = [torch.tensor([j * classes // c for j in range(c)], device=dev) for c in channels]

    def normalised(x):
        n = x[0].numel()
        return x * (n ** 0.5) / (x.flatten(1).norm(dim=1).view(-1, 1, 1, 1) + 1e-4)

    def goodness(h, l):
        per_channel = h.pow(2).mean(dim=(2, 3))                      # [n, C]
        sums = torch.zeros(h.shape[0], classes, device=dev).index_add_(1, owner[l], per_channel)
        counts = torch.bincount(owner[l], minlength=classes).clamp(min=1)
        return sums / counts

    def step(x, y):
        for l, conv in enumerate(convs):
            xn = normalised(x.detach())
            loss = F.cross_entropy(goodness(F.relu(conv(xn)), l), y)
            opts[l].zero_grad()
            loss.backward()
            opts[l].step()
            with torch.no_grad():
                h = F.relu(conv(xn))
                x = F.max_pool2d(h, 2) if pools[l] else h

    def predict(x):
        with torch.no_grad():
            for l, conv in enumerate(convs):
                h = F.relu(conv(normalised(x)))
                x = F.max_pool2d(h, 2) if pools[l] else h
            return goodness(h, len(convs) - 1).argmax(1)

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    step(xi[:batch], yi[:batch])  # warm-up (cuDNN's algorithm choice on a GPU), not timed
    sync()
    t0 = time.time()
    for _ in range(epochs):
        perm = torch.randperm(len(xi), device=dev)
        for s in range(0, len(xi), batch):
            idx = perm[s:s + batch]
            step(xi[idx], yi[idx])
    sync()
    train = (time.time() - t0) / epochs
    t0 = time.time()
    correct = sum(int((predict(xt[s:s + 1000]) == yt[s:s + 1000]).sum()) for s in range(0, len(xt), 1000))
    sync()
    test = time.time() - t0
    print(f"train {train:.3f}, test {test:.3f}, accuracy {correct / len(xt):.4f}")


if __name__ == "__main__":
    main()
