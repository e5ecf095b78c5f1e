#!/usr/bin/env bash
# Install the system packages that the PDF build needs (Debian/Ubuntu, as root or with sudo):
# XeLaTeX and the LaTeX packages jupyter-book's LaTeX writer uses, latexmk and xindy to drive
# the build, the FreeFont OpenType fonts Sphinx's xelatex template asks for, and poppler's
# pdftotext/pdfinfo, which .ci/run uses to check the PDF.
#
# Not texlive-fonts-extra (1.4 GB): its only use here would be bbm.sty, which
# sphinx-jupyterbook-latex asks for; tools/latex/bbm.sty stands in for it (see that file).
#
# Idempotent and quick when everything is already there.
set -euo pipefail

packages=(texlive-xetex texlive-latex-extra texlive-fonts-recommended latexmk xindy
          fonts-freefont-otf make poppler-utils)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "install_pdf_deps: all present"
    exit 0
fi

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "install_pdf_deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
