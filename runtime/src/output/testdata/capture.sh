#!/bin/sh
# Regenerates every golden NAME.txt from NAME.bt with the bpftrace installed here (0.17.0 is
# the reference; run as root). json_*.bt run with -f json. Each .txt starts with one line
# naming the command; the rest is bpftrace's stdout, byte for byte (stderr is dropped).
set -eu
cd "$(dirname "$0")"
version=$(bpftrace --version | sed 's/^bpftrace v//')
for bt in *.bt; do
    name=${bt%.bt}
    case $name in
        json_*) flags="-f json " ;;
        *) flags="" ;;
    esac
    {
        echo "# bpftrace $version: bpftrace ${flags}testdata/$bt"
        # shellcheck disable=SC2086
        bpftrace $flags "$bt" 2>/dev/null
    } > "$name.txt"
done
