"""Plain PyTorch re-implementation of the reference FFLib FFNN (SPEC §2-3), used to
(1) write golden fixtures for the C# tests and (2) sanity-check accuracy/speed.

Usage:
  OPENBLAS_CORETYPE=SkylakeX python3 ffnn_torch.py golden OUT.json
  OPENBLAS_CORETYPE=SkylakeX python3 ffnn_torch.py golden-ffc OUT.json
  OPENBLAS_CORETYPE=SkylakeX python3 ffnn_torch.py golden-ffrnn OUT.json
  OPENBLAS_CORETYPE=SkylakeX python3 ffnn_torch.py train MNIST_DIR [--model ffnn|bpnn|ffc|ffrnn] [--layers 500,500] [--epochs 1] [--train-limit N] [--test-limit N]
"""
import json, math, sys, time
import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(2)


class FFLinear(torch.nn.Module):
    def __init__(self, in_f, out_f, threshold, minimize, lr):
        super().__init__()
        self.lin = torch.nn.Linear(in_f, out_f)
        self.threshold = threshold
        self.minimize = minimize
        self.opt = torch.optim.Adam(self.parameters(), lr=lr)

    def forward(self, x):
        x = x / (x.norm(2, 1, keepdim=True) + 1e-4)
        return torch.relu(self.lin(x))

    def loss(self, h_pos, h_neg):
        g_pos = h_pos.pow(2).mean(1)
        g_neg = h_neg.pow(2).mean(1)
        if self.minimize:   # L-
            z = torch.cat([g_pos - self.threshold, self.threshold - g_neg])
        else:               # L+
            z = torch.cat([self.threshold - g_pos, g_neg - self.threshold])
        return F.softplus(z).mean(), g_pos, g_neg

    def train_step(self, x_pos, x_neg):
        h_pos, h_neg = self.forward(x_pos), self.forward(x_neg)
        loss, g_pos, g_neg = self.loss(h_pos, h_neg)
        self.opt.zero_grad()
        loss.backward()
        grads = (self.lin.weight.grad.clone(), self.lin.bias.grad.clone())
        self.opt.step()
        with torch.no_grad():
            return self.forward(x_pos), self.forward(x_neg), loss.item(), g_pos.detach(), g_neg.detach(), grads


class FFNN:
    def __init__(self, sizes, threshold=20.0, minimize=True, lr=0.02, classes=10):
        self.layers = [FFLinear(a, b, threshold, minimize, lr) for a, b in zip(sizes[:-1], sizes[1:])]
        self.threshold, self.minimize, self.classes = threshold, minimize, classes

    def train_batch(self, x_pos, x_neg):
        trace = []
        for layer in self.layers:
            x_pos, x_neg, loss, g_pos, g_neg, grads = layer.train_step(x_pos, x_neg)
            trace.append((loss, g_pos, g_neg, grads))
        return trace

    @torch.no_grad()
    def scores(self, images):
        out = torch.zeros(images.shape[0], self.classes)
        for c in range(self.classes):
            onehot = torch.zeros(images.shape[0], self.classes); onehot[:, c] = 1
            x = torch.cat([images, onehot], 1)
            for layer in self.layers:
                x = layer(x)
                out[:, c] += F.softplus(x.pow(2).mean(1) - self.threshold)
        return out

    def predict(self, images):
        s = self.scores(images)
        return s.argmin(1) if self.minimize else s.argmax(1)


def tolist(t):
    # float32 values written as the exact doubles they are, so the fixture loses nothing.
    return t.detach().double().numpy().tolist() if isinstance(t, torch.Tensor) else t


def golden(path):
    torch.manual_seed(1234)
    B, img, classes = 6, 12, 4
    sizes = [img + classes, 10, 7]
    fixtures = {}
    for name, minimize, threshold in [("minimize", True, 1.0), ("maximize", False, 1.0)]:
        torch.manual_seed(1234)
        net = FFNN(sizes, threshold=threshold, minimize=minimize, lr=0.02, classes=classes)
        images = torch.rand(B, img)
        labels = torch.tensor([0, 1, 2, 3, 1, 2])
        neg = torch.tensor([2, 3, 0, 1, 0, 1])
        x_pos = torch.cat([images, F.one_hot(labels, classes).float()], 1)
        x_neg = torch.cat([images, F.one_hot(neg, classes).float()], 1)
        init = [{"weight": tolist(l.lin.weight), "bias": tolist(l.lin.bias)} for l in net.layers]
        steps = []
        for step in range(3):
            trace = net.train_batch(x_pos, x_neg)
            steps.append([{
                "loss": loss, "goodness_pos": tolist(gp), "goodness_neg": tolist(gn),
                "grad_weight": tolist(gw), "grad_bias": tolist(gb),
                "weight_after": tolist(l.lin.weight), "bias_after": tolist(l.lin.bias),
            } for (loss, gp, gn, (gw, gb)), l in zip(trace, net.layers)])
        fixtures[name] = {
            "sizes": sizes, "image_features": img, "classes": classes, "threshold": threshold,
            "lr": 0.02, "images": tolist(images), "labels": labels.tolist(), "negative_labels": neg.tolist(),
            "initial": init, "steps": steps,
            "scores_after": tolist(net.scores(images)), "predictions_after": net.predict(images).tolist(),
        }
    with open(path, "w") as f:
        json.dump({"generator": "tests/reference/ffnn_torch.py golden", "torch": torch.__version__, "cases": fixtures}, f)


def golden_ffc(path):
    """One FFNN+C classifier step: frozen 12+4 -> 8 -> 6 FF stack, classifier 14 -> 4, CE, Adam."""
    torch.manual_seed(99)
    B, img, classes = 5, 12, 4
    net = FFNN([img + classes, 8, 6], threshold=1.0, minimize=True, lr=0.02, classes=classes)
    classifier = torch.nn.Linear(8 + 6, classes)
    opt = torch.optim.Adam(classifier.parameters(), lr=1e-3)
    images = torch.rand(B, img)
    labels = torch.tensor([0, 3, 1, 2, 3])
    x = torch.cat([images, torch.zeros(B, classes)], 1)   # zero control vector
    acts = []
    with torch.no_grad():
        for layer in net.layers:
            x = layer(x)
            acts.append(x.clone())
    features = torch.cat(acts, 1)
    init = {"weight": tolist(classifier.weight), "bias": tolist(classifier.bias)}
    logits = classifier(features)
    loss = torch.nn.functional.cross_entropy(logits, labels)
    opt.zero_grad(); loss.backward()
    grads = (classifier.weight.grad.clone(), classifier.bias.grad.clone())
    opt.step()
    with torch.no_grad():
        scores = torch.relu(classifier(features))
    out = {
        "sizes": [img + classes, 8, 6], "image_features": img, "classes": classes, "threshold": 1.0, "classifier_lr": 1e-3,
        "images": tolist(images), "labels": labels.tolist(),
        "stack": [{"weight": tolist(l.lin.weight), "bias": tolist(l.lin.bias)} for l in net.layers],
        "classifier_initial": init, "features": tolist(features), "logits": tolist(logits), "loss": loss.item(),
        "grad_weight": tolist(grads[0]), "grad_bias": tolist(grads[1]),
        "weight_after": tolist(classifier.weight), "bias_after": tolist(classifier.bias),
        "scores_after": tolist(scores), "predictions_after": scores.argmax(1).tolist(),
    }
    with open(path, "w") as f:
        json.dump({"generator": "tests/reference/ffnn_torch.py golden-ffc", "torch": torch.__version__, "case": out}, f)


class FFRecurrentLayerRef(torch.nn.Module):
    """The reference FFRecurrentLayer: h = beta*relu(x_prev^ Wf^T + x_next^ Wb^T + b) + (1-beta)*h."""
    def __init__(self, fw, rc, bw, threshold, minimize, lr, beta):
        super().__init__()
        k = 1.0 / rc
        self.fw = torch.nn.Parameter(torch.empty(rc, fw).uniform_(-k ** 0.5, k ** 0.5))
        self.bw = torch.nn.Parameter(torch.empty(rc, bw).uniform_(-k ** 0.5, k ** 0.5))
        self.fb = torch.nn.Parameter(torch.empty(rc).uniform_(-k ** 0.5, k ** 0.5))
        self.threshold, self.minimize, self.beta = threshold, minimize, beta
        self.opt = torch.optim.Adam(self.parameters(), lr=lr)

    def forward(self, x_prev, x_recc, x_next):
        hf = x_prev / (x_prev.norm(2, 1, keepdim=True) + 1e-4)
        hb = x_next / (x_next.norm(2, 1, keepdim=True) + 1e-4)
        return self.beta * torch.relu(hf @ self.fw.T + hb @ self.bw.T + self.fb.unsqueeze(0)) + (1 - self.beta) * x_recc

    def train_step(self, hp, hn, i):
        yp = self.forward(hp[i - 1].detach(), hp[i].detach(), hp[i + 1].detach())
        yn = self.forward(hn[i - 1].detach(), hn[i].detach(), hn[i + 1].detach())
        gp, gn = yp.pow(2).mean(1), yn.pow(2).mean(1)
        z = torch.cat([gp - self.threshold, self.threshold - gn]) if self.minimize else torch.cat([self.threshold - gp, gn - self.threshold])
        loss = F.softplus(z).mean()
        self.opt.zero_grad(); loss.backward()
        grads = (self.fw.grad.clone(), self.bw.grad.clone(), self.fb.grad.clone())
        self.opt.step()
        return loss.item(), torch.cat([gp, gn]).detach(), grads


def golden_ffrnn(path):
    """Sweep plus two training frames of a [12, 8, 6, 4] FFRNN on a batch of 5, both loss directions."""
    cases = {}
    for name, minimize in [("minimize", True), ("maximize", False)]:
        torch.manual_seed(7)
        dims, B, beta, theta = [12, 8, 6, 4], 5, 0.7, 0.5
        layers = [FFRecurrentLayerRef(dims[i - 1], dims[i], dims[i + 1], theta, minimize, 0.02, beta) for i in range(1, len(dims) - 1)]
        images = torch.rand(B, dims[0])
        labels = torch.tensor([0, 1, 2, 3, 1]); neg = torch.tensor([2, 3, 0, 1, 0])
        init_pos = [torch.rand(1, d) for d in dims[1:-1]]
        init_neg = [torch.rand(1, d) for d in dims[1:-1]]
        params = [{"forward": tolist(l.fw), "backward": tolist(l.bw), "bias": tolist(l.fb)} for l in layers]
        hp = [images] + [x.clone() for x in init_pos] + [F.one_hot(labels, 4).float()]
        hn = [images] + [x.clone() for x in init_neg] + [F.one_hot(neg, 4).float()]
        with torch.no_grad():
            for i in range(1, len(dims) - 1):
                hp[i] = layers[i - 1](hp[i - 1], hp[i], hp[i + 1])
                hn[i] = layers[i - 1](hn[i - 1], hn[i], hn[i + 1])
        sweep = [tolist(torch.cat([hp[i], hn[i]])) for i in range(1, len(dims) - 1)]
        frames = []
        for frame in range(2):
            np_, nn_ = [h.clone() for h in hp], [h.clone() for h in hn]
            steps = []
            for i in range(1, len(dims) - 1):
                l = layers[i - 1]
                loss, good, (gf, gb, gbias) = l.train_step(hp, hn, i)
                with torch.no_grad():
                    np_[i] = l(hp[i - 1], hp[i], hp[i + 1]); nn_[i] = l(hn[i - 1], hn[i], hn[i + 1])
                steps.append({"loss": loss, "goodness": tolist(good), "grad_forward": tolist(gf), "grad_backward": tolist(gb),
                              "grad_bias": tolist(gbias), "forward_after": tolist(l.fw), "backward_after": tolist(l.bw), "bias_after": tolist(l.fb)})
            hp, hn = np_, nn_
            frames.append({"layers": steps, "states": [tolist(torch.cat([hp[i], hn[i]])) for i in range(1, len(dims) - 1)]})
        cases[name] = {"dims": dims, "beta": beta, "threshold": theta, "lr": 0.02, "images": tolist(images),
                       "labels": labels.tolist(), "negative_labels": neg.tolist(),
                       "init_pos": [tolist(x[0]) for x in init_pos], "init_neg": [tolist(x[0]) for x in init_neg],
                       "initial": params, "sweep": sweep, "frames": frames}
    with open(path, "w") as f:
        json.dump({"generator": "tests/reference/ffnn_torch.py golden-ffrnn", "torch": torch.__version__, "cases": cases}, f)


def read_idx(path):
    import gzip
    op = gzip.open if path.endswith(".gz") else open
    with op(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def train(args):
    """Timing baseline: one epoch of the chosen architecture at the paper's sizes, then the test set.
    Prints 'epoch 1: train T s, [classifier C s, ]test P s, test accuracy A%' for bench/FFLib.Benchmarks."""
    d = args[0]
    opts = dict(zip(args[1::2], args[2::2]))
    model = opts.get("--model", "ffnn")
    layers = [int(x) for x in opts.get("--layers", "2000,2000").split(",")]
    epochs = int(opts.get("--epochs", 1)); tl = int(opts.get("--train-limit", 60000)); te = int(opts.get("--test-limit", 10000))
    torch.manual_seed(int(opts.get("--seed", 42)))
    xi = torch.tensor(read_idx(f"{d}/train-images-idx3-ubyte")[:tl].reshape(-1, 784), dtype=torch.float32) / 255
    yi = torch.tensor(read_idx(f"{d}/train-labels-idx1-ubyte")[:tl].astype(np.int64))
    nval = round(len(xi) * 0.1); xi, yi = xi[:-nval], yi[:-nval]
    xt = torch.tensor(read_idx(f"{d}/t10k-images-idx3-ubyte")[:te].reshape(-1, 784), dtype=torch.float32) / 255
    yt = torch.tensor(read_idx(f"{d}/t10k-labels-idx1-ubyte")[:te].astype(np.int64))

    def batches():
        perm = torch.randperm(len(xi))
        for s in range(0, len(xi), 128):
            idx = perm[s:s + 128]
            yield xi[idx], yi[idx]

    def ff_epoch(net):
        for img, y in batches():
            neg = (y + torch.randint(1, 10, y.shape)) % 10
            net.train_batch(torch.cat([img, F.one_hot(y, 10).float()], 1), torch.cat([img, F.one_hot(neg, 10).float()], 1))

    for ep in range(epochs):
        extra = ""
        if model == "ffnn":
            net = net if ep else FFNN([794] + layers)
            t0 = time.time(); ff_epoch(net); t1 = time.time()
            pred = net.predict(xt)
        elif model == "bpnn":
            if ep == 0:
                dims = [784] + layers + [10]
                mlp = torch.nn.Sequential(*[m for i in range(len(dims) - 1) for m in ([torch.nn.Linear(dims[i], dims[i + 1])] + ([torch.nn.ReLU()] if i < len(dims) - 2 else []))])
                opt = torch.optim.Adam(mlp.parameters(), lr=1e-4)
            t0 = time.time()
            for img, y in batches():
                loss = F.cross_entropy(mlp(img), y)
                opt.zero_grad(); loss.backward(); opt.step()
            t1 = time.time()
            with torch.no_grad():
                pred = mlp(xt).argmax(1)
        elif model == "ffc":
            # One epoch of each phase: the FF stack, then the classifier on the frozen stack (zero control vector).
            net = FFNN([794] + layers)
            classifier = torch.nn.Linear(sum(layers), 10)
            opt = torch.optim.Adam(classifier.parameters(), lr=1e-4)
            t0 = time.time(); ff_epoch(net); t1 = time.time()

            def features(img):
                x = torch.cat([img, torch.zeros(img.shape[0], 10)], 1)
                acts = []
                with torch.no_grad():
                    for layer in net.layers:
                        x = layer(x); acts.append(x)
                return torch.cat(acts, 1)
            for img, y in batches():
                loss = F.cross_entropy(classifier(features(img)), y)
                opt.zero_grad(); loss.backward(); opt.step()
            t2 = time.time()
            extra = f"classifier {t2 - t1:.1f} s, "
            t1 = t2
            with torch.no_grad():
                pred = torch.relu(classifier(features(xt))).argmax(1)
        elif model == "ffrnn":
            # The reference FFRNN (beta 0.7, K_train 10, K_testlow 3, K_testhigh 8), a layer's step per frame.
            dims = [784] + layers + [10]
            rlayers = [FFRecurrentLayerRef(dims[i - 1], dims[i], dims[i + 1], 20.0, True, 0.02, 0.7) for i in range(1, len(dims) - 1)]
            t0 = time.time()
            for img, y in batches():
                b = img.shape[0]
                neg = (y + torch.randint(1, 10, y.shape)) % 10
                hp = [img] + [torch.rand(1, dd).expand(b, dd).clone() for dd in dims[1:-1]] + [F.one_hot(y, 10).float()]
                hn = [img] + [torch.rand(1, dd).expand(b, dd).clone() for dd in dims[1:-1]] + [F.one_hot(neg, 10).float()]
                with torch.no_grad():
                    for i in range(1, len(dims) - 1):
                        hp[i] = rlayers[i - 1](hp[i - 1], hp[i], hp[i + 1]); hn[i] = rlayers[i - 1](hn[i - 1], hn[i], hn[i + 1])
                for frame in range(10):
                    np_, nn_ = list(hp), list(hn)
                    for i in range(1, len(dims) - 1):
                        l = rlayers[i - 1]
                        l.train_step(hp, hn, i)
                        with torch.no_grad():
                            np_[i] = l(hp[i - 1], hp[i], hp[i + 1]); nn_[i] = l(hn[i - 1], hn[i], hn[i + 1])
                    hp, hn = np_, nn_
            t1 = time.time()
            scores = torch.zeros(len(xt), 10)
            with torch.no_grad():
                for start in range(0, len(xt), 1000):
                    img = xt[start:start + 1000]; b = img.shape[0]
                    for c in range(10):
                        h = [img] + [torch.rand(1, dd).expand(b, dd).clone() for dd in dims[1:-1]] + [F.one_hot(torch.full((b,), c), 10).float()]
                        for i in range(1, len(dims) - 1):
                            h[i] = rlayers[i - 1](h[i - 1], h[i], h[i + 1])
                        for frame in range(8):
                            nh = list(h)
                            for i in range(1, len(dims) - 1):
                                nh[i] = rlayers[i - 1](h[i - 1], h[i], h[i + 1])
                                if frame > 3:
                                    scores[start:start + b, c] += F.softplus(nh[i].pow(2).mean(1) - 20.0)
                            h = nh
            pred = scores.argmin(1)
        else:
            raise SystemExit(f"unknown --model {model}")
        acc = (pred == yt).float().mean().item()
        print(f"epoch {ep + 1}: train {t1 - t0:.1f} s, {extra}test {time.time() - t1:.1f} s, test accuracy {acc * 100:.2f}%")


if __name__ == "__main__":
    if sys.argv[1] == "golden":
        golden(sys.argv[2])
    elif sys.argv[1] == "golden-ffrnn":
        golden_ffrnn(sys.argv[2])
    elif sys.argv[1] == "golden-ffc":
        golden_ffc(sys.argv[2])
    else:
        train(sys.argv[2:])
