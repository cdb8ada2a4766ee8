# Two commands on a fresh clone: `make demo` (the main job, offline) and `make test`.
# Each creates .venv with the pinned dependency set when it is missing.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO ?= runs/demo

.PHONY: demo test swift-test goldens venv clean

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m scripts.demo --out $(DEMO)

test: $(STAMP)
	$(PY) -m pytest -q
	$(MAKE) swift-test

# The Swift package (Package.swift at the root, sources in apple/): build, then test. On Linux the
# build also compiles the Core ML / CoreGraphics glue against apple/Stubs.
swift-test:
	swift build -j 1 && swift test -j 1

# Regenerate the Swift tests' goldens from the non-square ViT scripts/apple_goldens.py builds (tests/test_apple_goldens.py
# fails when the committed ones no longer match what the Python side computes).
goldens: $(STAMP)
	$(PY) -m scripts.apple_goldens

clean:
	rm -rf $(VENV) runs .pytest_cache .build apple/.build
