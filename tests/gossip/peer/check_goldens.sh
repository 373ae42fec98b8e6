#!/bin/sh
# meson test: rebuilds the memberlist peer offline and checks that the stored
# goldens are still what memberlist writes, and that memberlist opens the
# packets and streams cairn sealed. Skipped (77) where Debian's Go or
# memberlist source is not installed.
#
#   check_goldens.sh BUILD_SUBDIR GOLDENS_DIR
set -eu
build=$1
goldens=$2
if ! command -v go >/dev/null 2>&1 || [ ! -d /usr/share/gocode/src/github.com/hashicorp/memberlist ]; then
  echo "go or memberlist source missing: skipped"
  exit 77
fi
here=$(cd "$(dirname "$0")" && pwd)
"$here/build.sh" "$build/memberlist-peer" "$build/memberlist-peer.gopath"
"$build/memberlist-peer" check "$goldens"
echo "goldens match memberlist"
