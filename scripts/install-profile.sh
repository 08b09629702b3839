#!/usr/bin/env bash
# The one step that makes `snakemake --profile slurm` work from anywhere: Snakemake looks for a
# profile named slurm in ./slurm, ~/.config/snakemake/slurm and /etc/xdg/snakemake/slurm, never in
# profiles/slurm. This links ~/.config/snakemake/slurm to this repository's profiles/slurm, so
# edits to the profile here take effect there. `--profile profiles/slurm` works without it.
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)/profiles/slurm"
dest="${XDG_CONFIG_HOME:-$HOME/.config}/snakemake/slurm"
mkdir -p "$(dirname "$dest")"
if [ -e "$dest" ] && [ ! -L "$dest" ]; then
    echo "install-profile: $dest exists and is not a link; move it away first" >&2
    exit 1
fi
ln -sfn "$src" "$dest"
echo "installed: $dest -> $src"
