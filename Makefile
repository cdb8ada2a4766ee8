# Two commands on a fresh clone: `make demo` (the main job, offline) and `make test`.
# Each creates .venv with the pinned dependency set when it is missing.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO ?= runs/demo

.PHONY: demo test swift-test goldens mutation venv clean

venv: $(STAMP)

$(STAMP): requirements.txt requirements-nodeps.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -r requirements-nodeps.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m evit demo --out $(DEMO)

test: $(STAMP)
	$(PY) -m pytest -q --durations=15
	$(MAKE) swift-test

# The Swift package (Package.swift at the root, sources in apple/): build, then test. On Linux the
# build also compiles the Core ML / CoreGraphics glue against apple/Stubs.
swift-test:
	swift build -j 1 && swift test -j 1

# Regenerate the Swift tests' goldens from the non-square ViT scripts/apple_goldens.py builds (tests/test_apple_goldens.py
# fails when the committed ones no longer match what the Python side computes).
goldens: $(STAMP)
	$(PY) -m scripts.apple_goldens

# Mutation testing (not part of `make test`): mutmut mutates the modules [tool.mutmut] names in
# pyproject.toml (of bench/run.py only its parity code, of xai/evaluate.py its scoring and summaries:
# MUTANTS) and runs the fast tests listed
# there against each mutant; lists every mutant left alive (docs/mutation.md says why each may
# live) and writes the score per file to benchmarks/results/mutation.json. About 8 minutes, one core.
MUTATION_JOBS ?= 1
MUTANTS ?= runtime.images.* runtime.manifest.* xai.metrics.x* xai.metrics.perturbation.* \
	xai.metrics.localization.* xai.metrics.deletion_insertion.* xai.metrics.sanity.* xai.stats.* \
	$(foreach f,score_method differences metric_rows mark_sanity result_rows,xai.evaluate.x_$(f)__*) \
	bench.run.x_heatmap_parity* bench.run.x_quality*
mutation: $(STAMP)
	rm -rf mutants
	$(VENV)/bin/mutmut run --max-children $(MUTATION_JOBS) $(foreach m,$(MUTANTS),'$(m)')
	$(VENV)/bin/mutmut results | grep -v 'not checked' || true
	$(PY) -m scripts.mutation_results

clean:
	rm -rf $(VENV) runs .pytest_cache .build apple/.build
