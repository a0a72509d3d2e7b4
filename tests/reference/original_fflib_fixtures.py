"""Writes the fixtures of `fflib import` (tests/FFLib.Tests/Fixtures/original/): small FFNN, FFNN+C, FFRNN
and BPNN models trained and saved by the ORIGINAL PyTorch FFLib (its own classes and its suites' save), and
what the original predicts with them on the first 1,000 MNIST test images.

The original library is not part of this repository: pass the folder holding its `fflib` package
(github.com/mitkonikov/ff, `src/`). Debian's python3-torch (1.13) is enough:

  OPENBLAS_CORETYPE=SkylakeX /usr/bin/python3 tests/reference/original_fflib_fixtures.py ORIGINAL_SRC MNIST_DIR OUT_DIR
      [--width 16] [--train 2000] [--ff-epochs 4] [--theta 2] [--models ffnn,ffc,ffrnn,bpnn]

The defaults make the committed fixtures (16-unit layers, seconds of training). A full-size check (the paper's
2x2000 FFNN with theta 20, and its BPNN) is the same script with --width 2000 --train 60000 --theta 20
--models ffnn,bpnn; docs/reproducing.md has what it measured.

Writes OUT_DIR/{ffnn,ffc,ffrnn,bpnn}.pt and OUT_DIR/expected.safetensors: for each model its per-class
scores ("NAME.scores", [1000, 10]: the goodness the probe compares for the FF models, the output the
argmax takes for FFNN+C and BPNN) and its predictions ("NAME.predictions", [1000], as float32).
"""
import gzip, json, os, struct, sys
import numpy as np
import torch

torch.set_num_threads(2)
src, mnist_dir, out = sys.argv[1], sys.argv[2], sys.argv[3]
options = dict(zip(sys.argv[4::2], sys.argv[5::2]))
unknown = set(options) - {"--width", "--train", "--ff-epochs", "--theta", "--models"}
if unknown or len(sys.argv[4:]) % 2:
    sys.exit(f"unknown or incomplete options: {' '.join(sys.argv[4:])}")
W = int(options.get("--width", 16))
N = int(options.get("--train", 2000))
FF_EPOCHS = int(options.get("--ff-epochs", 4))
THETA = float(options.get("--theta", 2))
MODELS = options.get("--models", "ffnn,ffc,ffrnn,bpnn").split(",")
os.makedirs(out, exist_ok=True)
sys.path.insert(0, src)
from fflib.nn.ff_linear import FFLinear
from fflib.nn.ff_net import FFNet
from fflib.nn.ffc import FFC
from fflib.nn.ff_rnn import FFRNN
from fflib.probes.one_hot import TryAllClasses
from fflib.interfaces.iff import IFF
from fflib.utils.ff_suite import FFSuite
from fflib.utils.ffc_suite import FFCSuite
from fflib.utils.ffrnn_suite import FFRNNSuite
from fflib.utils.bp_suite import BPSuite


def idx(name):
    for candidate in (name, name + ".gz"):
        path = os.path.join(mnist_dir, candidate)
        if os.path.exists(path):
            raw = (gzip.open if path.endswith(".gz") else open)(path, "rb").read()
            dims = raw[3]
            shape = struct.unpack(">" + "I" * dims, raw[4:4 + 4 * dims])
            return np.frombuffer(raw, np.uint8, offset=4 + 4 * dims).reshape(shape)
    raise FileNotFoundError(name)


# As the original's loaders: ToTensor (pixels / 255) and flatten.
x_train = torch.tensor(idx("train-images-idx3-ubyte")[:N].reshape(N, 784), dtype=torch.float32) / 255
y_train = torch.tensor(idx("train-labels-idx1-ubyte")[:N].astype(np.int64))
x_test = torch.tensor(idx("t10k-images-idx3-ubyte")[:1000].reshape(1000, 784), dtype=torch.float32) / 255
one_hot = lambda y: torch.nn.functional.one_hot(y, 10).float()


def negatives(y):
    # The original's NegativeGenerator.RANDOM: a random label other than the true one.
    return (y + torch.randint(1, 10, y.shape)) % 10


def batches(epochs=2, size=128):
    g = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        perm = torch.randperm(N, generator=g)
        for i in range(0, N, size):
            j = perm[i:i + size]
            yield x_train[j], y_train[j]


expected = {}
torch.manual_seed(1)

# FFNN (FFNet of FFLinear layers), trained with L- (maximize=False) as the paper's Table 1; θ = 2 (not 20) so that
# 16-unit layers learn something in seconds. The importer reads θ, the loss and the widths from the file.
if "ffnn" in MODELS:
  layers = [FFLinear(794, W, THETA, 0.02, maximize=False), FFLinear(W, W, THETA, 0.02, maximize=False)]
  net = FFNet(layers, None, maximize=False)
  for x, y in batches(FF_EPOCHS):
      net.run_train_combined(torch.cat((x, one_hot(y)), 1), torch.cat((x, one_hot(negatives(y))), 1))
  probe = TryAllClasses(lambda x, y: net(torch.cat((x, y), 1)), output_classes=10, maximize=False)
  with torch.no_grad():
      expected["ffnn.scores"] = probe.class_goodness(x_test)
      expected["ffnn.predictions"] = probe.predict(x_test)
  FFSuite(net, probe, None).save(os.path.join(out, "ffnn.pt"))

# FFNN+C: the FF layers, then the classifier over their outputs with an all-zero label.
if "ffc" in MODELS:
  layers = [FFLinear(794, W, THETA, 0.02, maximize=False), FFLinear(W, W, THETA, 0.02, maximize=False)]
  ffc = FFC(layers, classifier_lr=0.001, output_classes=10, maximize=False)
  for x, y in batches(FF_EPOCHS):
      ffc.run_train_combined(torch.cat((x, one_hot(y)), 1), torch.cat((x, one_hot(negatives(y))), 1))
  for x, y in batches(2):
      ffc.train_classifier(torch.cat((x, torch.zeros(len(x), 10)), 1), one_hot(y))
  with torch.no_grad():
      feats, h = [], torch.cat((x_test, torch.zeros(1000, 10)), 1)
      for layer in ffc.layers:
          h = layer(h)
          feats.append(h)
      expected["ffc.scores"] = torch.relu(ffc.classifier(torch.cat(feats, 1)))
      expected["ffc.predictions"] = ffc(torch.cat((x_test, torch.zeros(1000, 10)), 1))
  FFCSuite(ffc, None, None).save(os.path.join(out, "ffc.pt"))

# FFRNN: dimensions [784, 16, 16, 10], the paper's K and beta.
if "ffrnn" in MODELS:
  rnn = FFRNN.from_dimensions(dimensions=[784, W, W, 10], K_train=10, K_testlow=3, K_testhigh=8, maximize=False,
                              activation_fn=torch.nn.ReLU(), loss_threshold=THETA, optimizer=torch.optim.Adam, lr=0.02, beta=0.7)
  for x, y in batches(2):
      rnn.run_train(x, one_hot(y), x, one_hot(negatives(y)))
  probe = TryAllClasses(lambda x, y: rnn(x, y), output_classes=10, maximize=False)
  # The original's FFRNN starts every forward pass (one per label) from fresh torch.nn.init.uniform_ states of every
  # level, so its predictions are random from call to call. Record the draws of one scoring pass, so the test can
  # start ours from the same states ("ffrnn.initial", [label, hidden layer, width]).
  draws, uniform = [], torch.nn.init.uniform_
  def recording_uniform(t, *args, **kwargs):
      out = uniform(t, *args, **kwargs)
      draws.append(t.detach().clone().reshape(-1))
      return out
  torch.nn.init.uniform_ = recording_uniform
  with torch.no_grad():
      scores = probe.class_goodness(x_test)
  torch.nn.init.uniform_ = uniform
  levels = len(rnn.layers)  # with the two dummy levels
  assert len(draws) == 10 * levels, len(draws)
  expected["ffrnn.initial"] = torch.stack([torch.stack(draws[c * levels + 1:(c + 1) * levels - 1]) for c in range(10)])
  expected["ffrnn.scores"] = scores
  expected["ffrnn.predictions"] = scores.argmin(1)
  with torch.no_grad():
      again = probe.predict(x_test)
  print(f"ffrnn: the original's own predictions agree with themselves on {(again == scores.argmin(1)).float().mean() * 100:.1f}% of the 1,000 images from one call to the next (fresh random states)")
  FFRNNSuite(rnn, probe, None).save(os.path.join(out, "ffrnn.pt"))


# BPNN as the original's examples/bp_mnist.py defines it (a class of the training script, pickled as __main__.BPDenseNet).
class BPDenseNet(IFF):
    def __init__(self, lr):
        super().__init__()
        self.lr = lr
        self.layers = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, W), torch.nn.ReLU(),
                                          torch.nn.Linear(W, W), torch.nn.ReLU(), torch.nn.Linear(W, 10))
        self.criterion = torch.nn.CrossEntropyLoss()
        self.opt = torch.optim.Adam(self.parameters(), lr)

    def get_layer_count(self):
        return 3

    def forward(self, x):
        return self.layers(x)

    def run_train(self, x_pos, y_pos, x_neg, y_neg):
        self.opt.zero_grad()
        self.criterion(self.forward(x_pos), y_pos).backward()
        self.opt.step()

    def run_train_combined(self, x_pos, x_neg):
        raise NotImplementedError()

    def strip_down(self):
        self.opt = None


if "bpnn" in MODELS:
  bp = BPDenseNet(1e-3)
  for x, y in batches():
      bp.run_train(x, y, None, None)
  with torch.no_grad():
      expected["bpnn.scores"] = bp(x_test)
      expected["bpnn.predictions"] = bp(x_test).argmax(1)
  BPSuite(bp, None, None).save(os.path.join(out, "bpnn.pt"))

# expected.safetensors: float32 scores and predictions (class numbers are exact in float32).
header, blobs, offset = {}, [], 0
for name, t in expected.items():
    arr = t.detach().numpy().astype(np.float32)
    blob = arr.tobytes()
    header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [offset, offset + len(blob)]}
    blobs.append(blob)
    offset += len(blob)
head = json.dumps(header, separators=(",", ":")).encode()
head += b" " * (-len(head) % 8)
with open(os.path.join(out, "expected.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(head)) + head + b"".join(blobs))
for name in MODELS:
    acc = (expected[name + ".predictions"].numpy() == idx("t10k-labels-idx1-ubyte")[:1000]).mean()
    print(f"{name}: {os.path.getsize(os.path.join(out, name + '.pt'))} bytes, accuracy on the 1,000 test images {acc * 100:.1f}%")
