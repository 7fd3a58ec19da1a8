#!/bin/bash
# The admin API (PROTOCOL.md section 2) through real Apache (mod_proxy_fcgi).
FRONT=apache
. "$(dirname "$0")/admin-api.inc"
