#!/usr/bin/env bash
# Install the Debian packages shapepipe needs: Source Extractor, PSFEx and
# Python's venv support. Uses root when we are root, sudo when it works without
# a password prompt; otherwise prints the exact command and fails.
set -euo pipefail

packages=()
command -v source-extractor >/dev/null 2>&1 || command -v sex >/dev/null 2>&1 || packages+=(source-extractor)
command -v psfex >/dev/null 2>&1 || packages+=(psfex)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || packages+=(python3-venv)

if [ ${#packages[@]} -eq 0 ]; then
    exit 0
fi

command_line="apt-get update && apt-get install -y ${packages[*]}"
if ! command -v apt-get >/dev/null 2>&1; then
    echo "shapepipe needs: ${packages[*]} (Debian/Ubuntu package names); install them with your system's package manager." >&2
    exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
    echo "Installing Debian packages: ${packages[*]}"
    DEBIAN_FRONTEND=noninteractive bash -c "$command_line" >/dev/null
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    echo "Installing Debian packages with sudo: ${packages[*]}"
    sudo DEBIAN_FRONTEND=noninteractive bash -c "$command_line" >/dev/null
else
    echo "shapepipe needs Debian packages that are not installed: ${packages[*]}" >&2
    echo "Run this once as root, then run make again:" >&2
    echo "    sudo bash -c '$command_line'" >&2
    exit 1
fi
