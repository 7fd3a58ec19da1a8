#!/bin/sh
# Regenerates configure and the Makefile templates from configure.ac and
# Makefile.am; run it once after a fresh clone.
set -e
cd "$(dirname "$0")"
mkdir -p m4 build-aux
autoreconf --install --force
