#!/usr/bin/env bash
# Installs docker compose v2 (and buildx) when the machine lacks them. Debian bookworm has no compose v2
# package; trixie's builds run on bookworm (they need only libc), so they are fetched from the same mirror
# the machine already uses, without adding trixie to its sources.
set -euo pipefail
if docker compose version >/dev/null 2>&1; then docker compose version; exit 0; fi

mirror=$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $1}' | grep -v security | head -1)
[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $3 ~ /^bookworm$/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
[ -n "$mirror" ] || { echo "no Debian mirror found in the apt sources" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial"
cat >"$work/trixie.sources" <<SRC
Types: deb
URIs: $mirror
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
opts=(-o "Dir::Etc::sourcelist=$work/trixie.sources" -o Dir::Etc::sourceparts=- -o "Dir::State::Lists=$work/lists")
apt-get "${opts[@]}" update -q >/dev/null
(cd "$work" && apt-get "${opts[@]}" download docker-compose docker-buildx >/dev/null)
dpkg -i "$work"/docker-compose_*.deb "$work"/docker-buildx_*.deb >/dev/null
docker compose version
