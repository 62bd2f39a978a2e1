#!/usr/bin/env bash
# Installs what MusicETL needs on a fresh Debian 12 machine with the Swift toolchain:
# the C libraries' -dev packages (as root, through apt) and the local MongoDB-compatible
# test server (a project-local Python venv). Idempotent: a second run installs nothing.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# dpkg-dev: dpkg-shlibdeps, which Jobs/package.sh uses to compute the package's Depends:; adduser:
# the package's postinst, for Tests/package/test-package.sh. libgomp1: LightGBM's OpenMP runtime.
packages=(libmongoc-dev libbson-dev libsndfile1-dev libfftw3-dev libsoxr-dev pkg-config python3-venv libgomp1 dpkg-dev adduser)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "setup: installing ${missing[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

"$root/Jobs/local-mongo.sh" install

# pandas, pyarrow, scikit-learn and LightGBM for the check that an export trains a model as it is.
check_venv=$root/.venv-check
if ! "$check_venv/bin/python" -c "import pandas, sklearn, pyarrow, lightgbm" 2>/dev/null; then
    echo "setup: installing pandas, pyarrow, scikit-learn and LightGBM into $check_venv" >&2
    [ -x "$check_venv/bin/pip" ] || python3 -m venv "$check_venv"
    "$check_venv/bin/pip" install --quiet --disable-pip-version-check "pandas>=2" "scikit-learn>=1.3" "pyarrow>=14"
    # Where LightGBM has no wheel the check trains scikit-learn's HistGradientBoosting instead.
    "$check_venv/bin/pip" install --quiet --disable-pip-version-check "lightgbm>=4" \
        || echo "setup: LightGBM not installed; the training check falls back to scikit-learn" >&2
fi
