#!/usr/bin/env bash
# Shell face of the job_sp command (ShapePipe's scripts/sh/job_sp.bash options):
#   scripts/job_sp.bash [-j JOB] [-c DIR] [-p psfex|mccd|piff] [-r symlink|vos]
#                       [-s onthefly|save] [-o DIR] [-n N] [--nsh_jobs N]
#                       [--nsh_step N] [--nsh_max N] TILE_ID [TILE_ID ...]
# Run it in the run directory ($SP_RUN); `job_sp -h` explains every option.
if [ $# -eq 0 ]; then
    exec job_sp -h
fi
exec job_sp "$@"
