#!/bin/sh
# Installs, with apt, whatever the build and the tests need and this machine
# lacks. Sourced by tools/dev and tools/test.
set -e
CAIRN_PACKAGES="meson ninja-build g++ pkg-config cmake clang-14 libclang-rt-14-dev clang-format-14
  libldns-dev libuv1-dev libtomlplusplus-dev libfmt-dev doctest-dev libcurl4-openssl-dev
  nlohmann-json3-dev libhttp-parser-dev libjemalloc-dev libsqlite3-dev zlib1g-dev libssl-dev
  libsystemd-dev systemd systemd-container groff-base man-db mandoc dpkg-dev debhelper lintian
  golang-go golang-github-hashicorp-memberlist-dev
  python3 python3-dnspython bind9-dnsutils knot-dnsutils ldnsutils curl nsd knot unbound dnsperf
  prometheus haproxy python3-consul util-linux
  iproute2 procps nftables chromium chromium-driver python3-selenium"
missing=""
for p in $CAIRN_PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "installing:$missing"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
fi
