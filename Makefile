# Set-up and the main entry points. Every target installs into .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
WORKDIR ?= runs/study

.PHONY: install study demo test test-slow bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The main job: the embedded study, end to end (resumes if interrupted); report in $(WORKDIR)/report.md.
study: $(STAMP)
	$(BIN)/btrl study --config=configs/study.py --workdir=$(WORKDIR)

# The foundation demo: a prior on the built-in `reverse` corpus, then a sample from it.
demo: $(STAMP)
	$(BIN)/btrl sft --config=configs/sft.py --workdir=runs/demo
	$(BIN)/btrl sample --checkpoint=runs/demo/sft/checkpoints --prompt="reverse: lemon copper falcon"

# The default test tier (what CI runs): 10-14 minutes on a 2-core CPU (11:33 for 642 tests from a clean clone on 2026-12-02 night, with the server and judge tests).
test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadfile -m "not slow"

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

bench: $(STAMP)
	$(BIN)/btrl bench sample

clean:
	rm -rf $(VENV) runs .pytest_cache
