#!/usr/bin/env bash
# Install the vhctl command line from this checkout into its own venv, and link it into ~/.local/bin.
#
# Usage: ./install.sh [--dev] [--no-link]
#   --dev       also install the test tools (the project's [dev] extra)
#   --no-link   make the venv only, leave ~/.local/bin alone (the test venv uses this)
# Environment:
#   VHCTL_PREFIX       the venv (default: ~/.local/share/vhctl/cli-venv)
#   VHCTL_BIN_DIR      where the `vhctl` link goes (default: ~/.local/bin)
#   VHCTL_PYTHON       the Python to build the venv with (default: python3; needs 3.10 or newer)
#   VHCTL_CONSTRAINTS  a pip constraints file (e.g. the lowest allowed versions, for a test)
#
# Safe to run again: it reuses the venv (rebuilding it only for another Python version), reinstalls
# vhctl from the checkout and refreshes the link. It never touches the system's site-packages, and
# never writes into the checkout: it builds from a copy in a temporary folder, so a read-only or
# root-owned checkout works.
set -euo pipefail

say() { printf 'install.sh: %s\n' "$*"; }
die() { printf 'install.sh: error: %s\n' "$*" >&2; exit 1; }

usage() { sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

dev=0
link=1
for arg in "$@"; do
    case "$arg" in
        --dev) dev=1 ;;
        --no-link) link=0 ;;
        -h | --help) usage; exit 0 ;;
        *) die "unknown option '$arg' (see ./install.sh --help)" ;;
    esac
done

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
prefix="${VHCTL_PREFIX:-${XDG_DATA_HOME:-$HOME/.local/share}/vhctl/cli-venv}"
bin_dir="${VHCTL_BIN_DIR:-$HOME/.local/bin}"
python="${VHCTL_PYTHON:-python3}"

command -v "$python" >/dev/null 2>&1 ||
    die "$python not found: install Python 3.10 or newer (Debian/Ubuntu: apt-get install python3 python3-venv)"
version="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" ||
    die "$python does not run"
"$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' ||
    die "vhctl needs Python 3.10 or newer but $python is $version: install a newer python3, or set VHCTL_PYTHON=/path/to/python3.X"
"$python" -c 'import venv, ensurepip' >/dev/null 2>&1 ||
    die "$python cannot create venvs (no venv/ensurepip module): apt-get install python3-venv (or python$version-venv), then run again"

# Python packages must go into our venv only, whatever the caller's environment says.
unset PYTHONPATH PYTHONHOME PIP_USER PIP_TARGET PIP_PREFIX

if [ -f "$prefix/pyvenv.cfg" ] &&
    ! "$prefix/bin/python" -c "import sys; sys.exit(0 if '%d.%d' % sys.version_info[:2] == '$version' else 1)" 2>/dev/null; then
    say "rebuilding $prefix for Python $version"
    "$python" -m venv --clear "$prefix" || die "could not rebuild the venv $prefix"
elif [ ! -f "$prefix/pyvenv.cfg" ]; then
    if [ -e "$prefix" ] && [ -n "$(ls -A "$prefix" 2>/dev/null)" ]; then
        die "$prefix exists and is not a venv: move it away or set VHCTL_PREFIX to another folder"
    fi
    say "creating the venv $prefix (Python $version)"
    mkdir -p "$(dirname "$prefix")" || die "cannot create $(dirname "$prefix") (permission?)"
    if ! "$python" -m venv "$prefix"; then
        rm -rf "$prefix"
        die "could not create the venv $prefix (Debian/Ubuntu: apt-get install python$version-venv; check free space and permissions)"
    fi
fi

# setuptools builds in the source folder (build/, *.egg-info) and packs whatever is there, even files
# since deleted: build from a clean copy outside the checkout, which stays untouched.
stage="$(mktemp -d "${TMPDIR:-/tmp}/vhctl-build.XXXXXX")" || die "cannot make a temporary folder (set TMPDIR)"
trap 'rm -rf "$stage"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
tar -C "$repo" --exclude=./.git --exclude=./build --exclude='*.egg-info' --exclude='./.venv*' \
    --exclude=__pycache__ -cf - . | tar -C "$stage" -xf - ||
    die "cannot copy $repo to $stage (check free space in ${TMPDIR:-/tmp})"
target="$stage"
[ "$dev" = 1 ] && target="$stage[dev]"
constraints=()
if [ -n "${VHCTL_CONSTRAINTS:-}" ]; then
    [ -f "$VHCTL_CONSTRAINTS" ] || die "VHCTL_CONSTRAINTS=$VHCTL_CONSTRAINTS is not a file"
    constraints=(--constraint "$VHCTL_CONSTRAINTS")
fi
say "installing vhctl from $repo$([ "$dev" = 1 ] && echo ' with the test tools')"
"$prefix/bin/python" -m pip install --quiet --disable-pip-version-check --no-input "${constraints[@]}" "$target" ||
    die "pip could not install vhctl into $prefix (see pip's message above; check the network or pip's index)"
"$prefix/bin/vhctl" --version >/dev/null || die "the installed vhctl does not run"

if [ "$link" = 0 ]; then
    say "installed: $prefix/bin/vhctl"
    exit 0
fi

mkdir -p "$bin_dir" || die "cannot create $bin_dir"
if [ -e "$bin_dir/vhctl" ] && [ ! -L "$bin_dir/vhctl" ]; then
    die "$bin_dir/vhctl exists and is not a link: move it away, or set VHCTL_BIN_DIR"
fi
ln -sfn "$prefix/bin/vhctl" "$bin_dir/vhctl"
say "installed: $bin_dir/vhctl -> $prefix/bin/vhctl"
case ":$PATH:" in
    *":$bin_dir:"*) ;;
    *) say "note: $bin_dir is not on your PATH; run $bin_dir/vhctl, or add it: echo 'export PATH=\"$bin_dir:\$PATH\"' >> ~/.profile" ;;
esac
