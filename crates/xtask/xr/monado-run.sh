#!/bin/bash
# Runs a host-built tomoni binary in XR mode against a real OpenXR runtime: Monado 25 (null
# compositor, simulated HMD, Vulkan on lavapipe) in a Debian trixie root, because Monado's client
# library needs a newer glibc than the bookworm host has. Needs root and the Debian mirror.
# Usage: monado-run.sh ROOT REPO BINDIR -- tomoni-args...     (ROOT is cached between runs)
# With KILL_RUNTIME_AFTER=SECONDS, Monado is killed that long after the session is FOCUSED and
# the script prints tomoni's exit status instead of returning it; with RESTART_RUNTIME_AFTER=SECONDS
# as well, Monado is started again that long after.
set -euo pipefail
R=$1; REPO=$2; BINDIR=$3; shift 4
mirror() { awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || awk '/^deb / {print $2; exit}' /etc/apt/sources.list; }
if [ ! -x "$R/usr/bin/monado-service" ] || [ ! -e "$R/.tomoni-ready" ]; then
  command -v debootstrap >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
  [ -x "$R/usr/bin/env" ] || debootstrap --variant=minbase trixie "$R" "$(mirror)" > /tmp/tomoni-debootstrap.log
fi
mounted=()
mnt() { mount "$@"; mounted+=("${@: -1}"); }
cleanup() {
  [ -n "${MPID:-}" ] && kill -TERM "$MPID" 2>/dev/null && wait "$MPID" 2>/dev/null || true
  for ((i=${#mounted[@]}-1; i>=0; i--)); do umount -R "${mounted[$i]}" 2>/dev/null || umount -l "${mounted[$i]}"; done
}
trap cleanup EXIT
mnt -t proc proc "$R/proc"
mnt --rbind /sys "$R/sys"; mount --make-rslave "$R/sys"
mnt --bind /dev "$R/dev"
mnt --bind /dev/pts "$R/dev/pts"
mnt -t tmpfs tmpfs "$R/tmp"
mnt -t tmpfs tmpfs "$R/run"
cp /etc/resolv.conf "$R/etc/resolv.conf"
IN() { chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
         XDG_RUNTIME_DIR=/tmp/xdg XR_RUNTIME_JSON=/usr/share/openxr/1/openxr_monado.json "$@"; }
if [ ! -e "$R/.tomoni-ready" ]; then
  # Monado, the loader (libopenxr-dev for the unversioned .so the openxr crate dlopens), lavapipe,
  # and the shared libraries tomoni links (espeak-ng, ALSA, D-Bus, udev).
  IN sh -c 'export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq --no-install-recommends \
     monado-service libopenxr1-monado libopenxr-loader1 libopenxr-dev mesa-vulkan-drivers \
     libespeak-ng1 libasound2t64 libdbus-1-3 libudev1 && apt-get clean' > /tmp/tomoni-apt-chroot.log
  touch "$R/.tomoni-ready"
fi
mkdir -p "$R/tmp/xdg" && chmod 700 "$R/tmp/xdg"
start_monado() {
  chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root XDG_RUNTIME_DIR=/tmp/xdg \
    XRT_COMPOSITOR_NULL=1 SIMULATED_ENABLE=1 XRT_NO_STDIN=1 monado-service > /tmp/tomoni-monado.log 2>&1 < /dev/null &
  MPID=$!
  for i in $(seq 1 200); do grep -q "The Monado service has started" /tmp/tomoni-monado.log && break; sleep 0.05; done
  grep -q "The Monado service has started" /tmp/tomoni-monado.log || { cat /tmp/tomoni-monado.log; exit 1; }
}
start_monado
for d in "$REPO" "$BINDIR"; do mkdir -p "$R$d"; mnt --bind "$d" "$R$d"; done
# A fresh data folder on the root's tmpfs each run: no remembered place, no old memories.
run() { IN sh -c 'cd "$0" && TOMONI_DATA_DIR=/tmp/tomoni-data RUST_LOG=warn,bevy_mod_openxr=info,tomoni_xr=info exec "$@"' "$REPO" "$BINDIR/tomoni" "$@"; }
if [ -n "${KILL_RUNTIME_AFTER:-}" ]; then
  # The runtime going away mid-session: kill Monado, then report how tomoni ended.
  log=/tmp/tomoni-xr-kill.log
  run "$@" > "$log" 2>&1 & APID=$!
  for i in $(seq 1 600); do grep -q "entered XR state FOCUSED" "$log" && break; sleep 0.1; done
  sleep "$KILL_RUNTIME_AFTER"; kill -KILL "$MPID"; wait "$MPID" 2>/dev/null || true; MPID=
  echo "monado-run: runtime killed"
  if [ -n "${RESTART_RUNTIME_AFTER:-}" ]; then
    # ... and back: a killed service leaves its socket behind.
    sleep "$RESTART_RUNTIME_AFTER"; rm -f "$R"/tmp/xdg/monado_comp_ipc; start_monado
    echo "monado-run: runtime restarted"
  fi
  set +e
  timeout 120 tail -f --pid="$APID" /dev/null || { echo "monado-run: tomoni did not exit within 120 s"; kill -KILL "$APID"; }
  wait "$APID"; rc=$?; set -e
  cat "$log"
  echo "monado-run: tomoni exited with status $rc"
  exit 0
fi
run "$@"
