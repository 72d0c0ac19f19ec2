#!/usr/bin/env bash
# System packages the tests and screenshots use, installed only where missing:
#   Qt's runtime libraries (offscreen and X11) and fonts, Xvfb (a virtual screen for screenshots),
#   and Debian's dataset-fashion-mnist (the real Fashion-MNIST test).
# Needs root (or sudo) and apt-get; elsewhere it says what it skipped and goes on:
# the tests that need a missing piece are skipped with a reason.
set -uo pipefail
PKGS=(libegl1 libgl1 libxkbcommon0 libfontconfig1 libglib2.0-0 libdbus-1-3 fonts-dejavu-core
      libxcb-cursor0 libxkbcommon-x11-0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0
      libxcb-shape0 libxcb-xinerama0 libxcb-randr0 libxcb-xkb1 xvfb dataset-fashion-mnist)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && { echo "system-deps: all present"; exit 0; }

if ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: no apt-get; install these yourself if you need them: ${missing[*]}"; exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo"; else
    echo "system-deps: not root; skipping: ${missing[*]}"; exit 0
  fi
fi
echo "system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/visgen-apt.log 2>&1 || {
  $SUDO apt-get update -q >>/tmp/visgen-apt.log 2>&1
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >>/tmp/visgen-apt.log 2>&1 ||
    echo "system-deps: apt-get failed (see /tmp/visgen-apt.log); dependent tests will skip"
}
exit 0
