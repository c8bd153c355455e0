# Two commands on a fresh machine: `make run` (install + launch) and `make test` (install + tests).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint bench package package-check clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	# The CPU wheel first, so that the dependency below is already satisfied (no multi-GB CUDA build).
	$(BIN)/python -m pip install torch==2.13.0
	$(BIN)/python -m pip install -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	@scripts/qt-system-libs.sh
	$(BIN)/semedit $(ARGS)

test: $(STAMP)
	@scripts/qt-system-libs.sh --with-xvfb
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check editor tests benchmarks

bench: $(STAMP)
	@for b in benchmarks/bench_*.py; do \
	  if [ $$b = benchmarks/bench_package.py ] && [ ! -x $(DIST)/semedit/semedit ]; then \
	    echo "$$b: skipped, it measures the built app (make package first)"; continue; fi; \
	  echo "== $$b"; $(BIN)/python $$b || exit 1; done

# The desktop app: PyInstaller's one-folder bundle dist/semedit/, the Debian package
# dist/semedit_<version>_<arch>.deb, then the frozen app's smoke test (packaging/README.md).
DIST ?= dist
package: $(STAMP)
	@scripts/qt-system-libs.sh --with-xvfb
	$(BIN)/python -c "import PyInstaller" 2>/dev/null || $(BIN)/python -m pip install -e '.[package]'
	$(BIN)/python -m PyInstaller --noconfirm --workpath build --distpath $(DIST) packaging/semedit.spec
	packaging/build-deb.sh $(DIST)/semedit $(DIST)
	packaging/check-frozen.sh $(DIST)/semedit

package-check:
	packaging/check-frozen.sh $(DIST)/semedit

clean:
	rm -rf $(VENV) build dist *.egg-info
