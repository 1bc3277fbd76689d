# Set-up and the main entry points. Every target installs into .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
WORKDIR ?= runs/demo

.PHONY: install study test test-slow bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The main job. For now: train the prior on the built-in corpus, then sample from it.
study: $(STAMP)
	$(BIN)/btrl sft --config=configs/sft.py --workdir=$(WORKDIR)
	$(BIN)/btrl sample --checkpoint=$(WORKDIR)/sft/checkpoints --prompt="reverse: lemon copper falcon"

# The default test tier (what CI runs): under 10 minutes on a 2-core CPU.
test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 -m "not slow"

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

bench: $(STAMP)
	$(BIN)/btrl bench sample

clean:
	rm -rf $(VENV) runs .pytest_cache
