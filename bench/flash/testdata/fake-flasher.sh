#!/bin/sh
# A stand-in for openocd/avrdude in tests: fake-flasher.sh IMAGE OUT [exit-code|sleep]
# copies IMAGE to OUT, talks like a flashing tool, and exits with the given code.
set -e
img=$1 out=$2 mode=${3:-0}
echo "fake-flasher: programming $(wc -c < "$img") bytes"
if [ "$mode" = sleep ]; then sleep 30; fi
cp "$img" "$out"
if [ "$mode" != 0 ]; then echo "fake-flasher: target not responding" >&2; exit "$mode"; fi
echo "fake-flasher: verified OK"
