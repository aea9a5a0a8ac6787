#!/usr/bin/env bash
# The headless browser tests/test_serve.py drives: Debian's chromium and Playwright for Python
# (into .venv; never `playwright install`, which downloads a browser of its own).
# Quick when both are there. Never fails `make test`: when an install fails, the reason goes
# into .venv/browser-missing and the browser test is skipped with it.
set -u
cd "$(dirname "$0")/.."
PY=.venv/bin/python
MISSING=.venv/browser-missing
CHROMIUM=/usr/bin/chromium
rm -f "$MISSING"

have_playwright() { "$PY" -c "import playwright.sync_api" >/dev/null 2>&1; }

if [ ! -x "$CHROMIUM" ]; then
    echo "ensure_browser: installing Debian's chromium (once)" >&2
    apt_install() {
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            -o DPkg::Lock::Timeout=300 chromium >/tmp/modelrace-apt.log 2>&1
    }
    if ! apt_install; then
        apt-get update -q -o DPkg::Lock::Timeout=300 >>/tmp/modelrace-apt.log 2>&1
        apt_install
    fi
    if [ ! -x "$CHROMIUM" ]; then
        echo "apt-get install chromium failed: $(tail -n 1 /tmp/modelrace-apt.log)" >"$MISSING"
    fi
fi

if ! have_playwright; then
    echo "ensure_browser: installing Playwright for Python into .venv (once)" >&2
    if ! "$PY" -m pip install -q playwright >/tmp/modelrace-pip.log 2>&1 || ! have_playwright; then
        echo "pip install playwright failed: $(tail -n 1 /tmp/modelrace-pip.log)" >>"$MISSING"
    fi
fi

if [ -s "$MISSING" ]; then
    echo "ensure_browser: the browser test will be skipped: $(cat "$MISSING")" >&2
fi
exit 0
