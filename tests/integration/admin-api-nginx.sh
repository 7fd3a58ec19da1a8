#!/bin/bash
# The admin API (PROTOCOL.md section 2) through real nginx.
FRONT=nginx
. "$(dirname "$0")/admin-api.inc"
