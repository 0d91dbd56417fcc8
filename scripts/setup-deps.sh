#!/usr/bin/env bash
# Installs the Debian packages hvlab needs, and nothing else.
# Run as root it installs what is missing (one `apt-get update` first); run as another
# user it prints the exact command to run. Changes no other system setting.
set -euo pipefail

# Every Debian package the project builds, tests or benchmarks with.
PACKAGES=(
  gcc clang make pkg-config binutils python3
  libzydis-dev
  libpapi-dev papi-tools
  libhwloc-dev hwloc
  libcmocka-dev
  gnuplot-nox
  qemu-system-x86
  latexmk texlive-latex-base texlive-latex-recommended
  slurm-wlm munge          # tests/integration/slurm.sh: a single-node cluster
)

# Packages a site often installs its own way (a cluster's Slurm, built by the site):
# their commands on PATH count as the package, so that hvlab builds on such nodes.
declare -A COMMANDS=(
  [slurm-wlm]="sbatch squeue scontrol slurmctld slurmd"
  [munge]="munged munge"
)
on_path() { local c; for c in $1; do command -v "$c" >/dev/null || return 1; done; }

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    if [ -n "${COMMANDS[$p]:-}" ] && on_path "${COMMANDS[$p]}"; then
      continue
    fi
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "hvlab: missing Debian packages: ${missing[*]}" >&2
  echo "hvlab: run as root:  apt-get update && apt-get install -y ${missing[*]}" >&2
  exit 1
fi

echo "hvlab: installing missing Debian packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
