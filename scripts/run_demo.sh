#!/usr/bin/env bash
# The main job: simulate the built-in CFIS-like field, then run the pipeline on it.
#   scripts/run_demo.sh [run directory]     (default: demo_run)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$repo/.venv/bin:$PATH"
export SP_RUN=$(mkdir -p "${1:-demo_run}" && cd "${1:-demo_run}" && pwd)
export SP_CONFIG="$repo/example/GOLD"

echo "== 1. Simulating the demo field (3 exposures x 4 CCDs, a 0.1 deg tile) into $SP_RUN"
shapepipe_simulate -o "$SP_RUN" --preset demo --seed 1 --overwrite

echo "== 2. Preparing inputs: tiles, tile weights, exposures of the tile (pipeline names)"
export SP_N_HDU=4   # the demo mosaics hold 4 of MegaCam's 40 CCDs
cd "$SP_RUN"
status=0
shapepipe_run -c "$SP_CONFIG/config_prepare.ini" || status=$?

echo "== 3. Single-exposure branch: split, merge headers, mask, detect, select stars, PSF model"
[ $status -eq 0 ] && { shapepipe_run -c "$SP_CONFIG/config_exp.ini" || status=$?; }

echo "== 4. Tile branch (config_tile_branch.ini): mask, detection with multi-epoch HDUs, PSFs per epoch, stamps, spread model, metacal shapes, final catalogue"
[ $status -eq 0 ] && { shapepipe_run -c "$SP_CONFIG/config_tile_branch.ini" || status=$?; }

run_dir=$(ls -d "$SP_RUN"/output/run_sp_exp_* | tail -n 1)
echo
echo "Inputs and truth:   $SP_RUN/input_exposures, $SP_RUN/input_tiles, $SP_RUN/truth.fits"
echo "Run directory:      $run_dir"
echo "PSF models:         $run_dir/psfex_runner/output/*.psf"
echo "PSF validation:     $run_dir/psfex_interp_runner/output/validation_psf-*.fits"
echo "Star-selection plots: $run_dir/setools_runner/output/plot/"
echo "Merged PSF validation catalogue: $SP_RUN/psf_validation/full_starcat-0000000.fits"
tile_dir=$(ls -d "$SP_RUN"/output/run_sp_tile_branch_* 2>/dev/null | tail -n 1)
if [ -n "$tile_dir" ]; then
    echo "Tile run directory: $tile_dir"
    echo "Tile catalogue:     $tile_dir/sextractor_runner/output/tile_sexcat-*.fits"
    echo "Per-epoch PSFs and stamps: $tile_dir/psfex_interp_runner/output, $tile_dir/vignetmaker_runner_run_2/output (sqlite)"
    echo "Shapes (metacal):   $(ls "$tile_dir"/ngmix_runner/output/ngmix-*.fits 2>/dev/null)"
    echo "Final catalogue:    $(ls "$tile_dir"/make_cat_runner/output/final_cat-*.fits 2>/dev/null)"
fi
exit $status
