#!/usr/bin/env bash
# Set up everything the tests need on a fresh Debian machine, then run the whole suite.
#
#   bash scripts/test.sh            # lint, layer contracts, every test (browser tests included)
#   bash scripts/test.sh -m unit    # extra arguments go to pytest: here, only the fast unit tests
#
# 1. Debian packages the browser, chart and PDF tests use (headless Chromium, CJK fonts, poppler), installed
#    with apt-get only when missing (as root, or through sudo);
# 2. a virtual environment in .venv with evalkit and its test extras;
# 3. ruff and the import-linter layer contract, then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

debian_packages=()
command -v chromium >/dev/null 2>&1 || debian_packages+=(chromium)
fc-list 2>/dev/null | grep -i "Noto Sans CJK" >/dev/null || debian_packages+=(fonts-noto-cjk fontconfig)
command -v pdftotext >/dev/null 2>&1 || debian_packages+=(poppler-utils)  # pdftotext, pdffonts: reading the printed PDFs
python3 -c "import ensurepip, venv" 2>/dev/null || debian_packages+=(python3-venv)  # Debian splits venv out of python3
if [ ${#debian_packages[@]} -gt 0 ]; then
  echo "scripts/test.sh: installing Debian packages: ${debian_packages[*]}" >&2
  if [ "$(id -u)" -eq 0 ]; then sudo=(); else sudo=(sudo); fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${debian_packages[@]}" >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test]"

.venv/bin/ruff check src tests benchmarks run_all.py
.venv/bin/lint-imports
exec .venv/bin/python -m pytest "$@"
