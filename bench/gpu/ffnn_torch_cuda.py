"""Same-run PyTorch baseline on the GPU for scripts/gpu-check.sh: the FFNN of
tests/reference/ffnn_torch.py (2x2000, batch 128, Adam lr 0.02, theta 20, L-) with the whole
data set on the GPU, float32 without TF32. Prints one warm-up epoch, timed epochs and the
prediction of the 10,000 test images.
Usage: python3 ffnn_torch_cuda.py MNIST_DIR [EPOCHS]"""
import gzip, os, sys, time
import numpy as np
import torch
import torch.nn.functional as F

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
dev = torch.device("cuda")


def read_idx(d, name):
    p = os.path.join(d, name)
    op = gzip.open if not os.path.exists(p) else open
    with op(p if os.path.exists(p) else p + ".gz", "rb") as f:
        data = f.read()
    nd = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * nd).reshape(dims)


class FFLinear(torch.nn.Module):
    def __init__(self, i, o):
        super().__init__()
        self.lin = torch.nn.Linear(i, o)
        self.opt = torch.optim.Adam(self.parameters(), lr=0.02)

    def forward(self, x):
        return torch.relu(self.lin(x / (x.norm(2, 1, keepdim=True) + 1e-4)))

    def step(self, xp, xn):
        hp, hn = self(xp), self(xn)
        z = torch.cat([hp.pow(2).mean(1) - 20.0, 20.0 - hn.pow(2).mean(1)])
        loss = F.softplus(z).mean()
        self.opt.zero_grad(); loss.backward(); self.opt.step()
        with torch.no_grad():
            return self(xp), self(xn)


def main():
    d = sys.argv[1]
    epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    torch.manual_seed(42)
    x = torch.tensor(read_idx(d, "train-images-idx3-ubyte").reshape(-1, 784), dtype=torch.float32, device=dev) / 255
    y = torch.tensor(read_idx(d, "train-labels-idx1-ubyte").astype(np.int64), device=dev)
    x, y = x[:54000], y[:54000]
    xt = torch.tensor(read_idx(d, "t10k-images-idx3-ubyte").reshape(-1, 784), dtype=torch.float32, device=dev) / 255
    yt = torch.tensor(read_idx(d, "t10k-labels-idx1-ubyte").astype(np.int64), device=dev)
    layers = [FFLinear(794, 2000).to(dev), FFLinear(2000, 2000).to(dev)]
    for l in layers:  # the optimiser was made before .to(): rebuild it on the GPU parameters
        l.opt = torch.optim.Adam(l.parameters(), lr=0.02)
    eye = torch.eye(10, device=dev)

    def epoch():
        perm = torch.randperm(len(x), device=dev)
        for s in range(0, len(x), 128):
            idx = perm[s:s + 128]
            img, lab = x[idx], y[idx]
            neg = (lab + torch.randint(1, 10, lab.shape, device=dev)) % 10
            xp, xn = torch.cat([img, eye[lab]], 1), torch.cat([img, eye[neg]], 1)
            for l in layers:
                xp, xn = l.step(xp, xn)

    @torch.no_grad()
    def predict(images):
        out = torch.zeros(images.shape[0], 10, device=dev)
        for c in range(10):
            h = torch.cat([images, eye[c].expand(images.shape[0], 10)], 1)
            for l in layers:
                h = l(h)
                out[:, c] += F.softplus(h.pow(2).mean(1) - 20.0)
        return out.argmin(1)

    print(f"torch {torch.__version__}, {torch.cuda.get_device_name(0)}, TF32 matmul {torch.backends.cuda.matmul.allow_tf32}")
    torch.cuda.synchronize(); t = time.time(); epoch(); torch.cuda.synchronize()
    print(f"torch warm-up epoch: {time.time() - t:.3f} s")
    times = []
    for _ in range(epochs):
        torch.cuda.synchronize(); t = time.time(); epoch(); torch.cuda.synchronize(); times.append(time.time() - t)
    print("torch FFNN 2000x2000 epoch (54000 images, batch 128): " + ", ".join(f"{v:.3f} s" for v in times))
    for rep in range(2):
        torch.cuda.synchronize(); t = time.time(); p = predict(xt); torch.cuda.synchronize()
        print(f"torch predict 10000 test images: {time.time() - t:.3f} s (accuracy {(p == yt).float().mean().item() * 100:.2f}%)")


main()
