#!/bin/sh
# Builds cairn's memberlist test peer offline from Debian's Go packages
# (golang-go, golang-github-hashicorp-memberlist-dev):
#
#   tests/gossip/peer/build.sh OUTPUT [WORKDIR]
#
# memberlist_goldens.go and memberlist_states.go must see memberlist's
# unexported functions and fields, so they are
# compiled inside a copy of Debian's memberlist package: WORKDIR (default: a
# directory next to OUTPUT) becomes a GOPATH holding that copy and the peer,
# placed before Debian's /usr/share/gocode.
set -eu
out=$1
work=${2:-$out.gopath}
here=$(cd "$(dirname "$0")" && pwd)
debian=/usr/share/gocode
pkg=$work/src/github.com/hashicorp/memberlist
rm -rf "$pkg" "$work/src/cairn-peer"
mkdir -p "$pkg" "$work/src/cairn-peer" "$work/cache"
cp -R "$debian/src/github.com/hashicorp/memberlist/." "$pkg/"
rm -f "$pkg"/*_test.go
cp "$here/memberlist_goldens.go" "$here/memberlist_states.go" "$pkg/"
cp "$here/main.go" "$here/run.go" "$work/src/cairn-peer/"
cd "$work/src/cairn-peer"
GO111MODULE=off GOPATH="$work:$debian" GOCACHE="$work/cache" \
  GOPROXY=off go build -o "$out" .
