#!/usr/bin/env bash
# Makes sure the Debian packages the city's written notice needs are installed:
#   fonts-dejavu-core  DejaVu Serif, the TrueType face the PDF notice embeds (every Vietnamese glyph; reportlab's
#                      core PDF fonts have none) — services/scoring/adapters/notice_render.py
#   poppler-utils      pdftotext (the tests read the PDF back) and pdftoppm (docs/screenshots/notice-*.png)
# Installs with apt-get when run as root; otherwise says what to run.
set -euo pipefail

missing=()
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf ] || missing+=(fonts-dejavu-core)
command -v pdftotext >/dev/null 2>&1 || missing+=(poppler-utils)
[ ${#missing[@]} -eq 0 ] && exit 0

source "$(dirname "$0")/apt_install.sh"
apt_install "the PDF notice and its tests" infra/notice_tools.sh "${missing[@]}"
