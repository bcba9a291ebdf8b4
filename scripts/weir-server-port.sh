#!/usr/bin/env bash
# weir-server-port.sh LOG [SECONDS] — waits for a weir-server started with
# --listen ADDRESS:0 and stderr to LOG to say where it listens, and prints
# the port. Exits 1 (printing nothing) when LOG has no such line in time
# (default 5 s).
set -u
log=${1:?usage: weir-server-port.sh LOG [SECONDS]}
tries=$(( ${2:-5} * 20 ))
for _ in $(seq 1 "$tries"); do
  port=$(grep -o 'listening on http://[0-9.]*:[0-9]*' "$log" 2>/dev/null | head -1 | grep -o '[0-9]*$')
  [ -n "$port" ] && { echo "$port"; exit 0; }
  sleep 0.05
done
exit 1
