#!/usr/bin/env bash
# Installs what building, running and testing rtcall needs, idempotently: Debian packages, the
# wasm32 target, wasm-bindgen-cli at exactly Cargo.lock's version, wasm-pack, geckodriver, and
# the npm packages of the committed lockfile. When everything is present it only checks, in seconds.
# Nothing comes from outside the package registries (apt, crates.io, npm).
set -euo pipefail
cd "$(dirname "$0")/.."

WASM_PACK_VERSION=0.15.1
GECKODRIVER_VERSION=0.37.1
# chromium + chromium-driver: headless browser tests (never a downloaded browser).
# cmake, pkg-config: native builds of C dependencies (aws-lc for DTLS).
# libopus-dev: the echo bot encodes its prompt tone with libopus.
# espeak-ng: the DSP tests synthesize speech to suppress noise in. sip-tester (sipp): the
# telephone tests run it as the SIP trunk. nftables: the network tests make faults (cuts, loss,
# blocked UDP) in namespaces of their own. coturn: the TURN relay for clients whose UDP is blocked.
# firefox-esr: the second engine of the browser and e2e layers (geckodriver comes from crates.io).
# webkit2gtk-driver + xvfb: WebKitGTK's WebDriver, the third engine, in a virtual display.
APT_PACKAGES=(chromium chromium-driver firefox-esr webkit2gtk-driver xvfb cmake pkg-config libopus-dev
  espeak-ng sip-tester nftables coturn)

say() { printf 'setup: %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
for package in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
install_debian() {
  as_root apt-get update -q &&
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}
apt_job=
apt_log=
# Whatever way the script ends, no apt job outlives it (it would hold dpkg's lock).
trap '[ -n "$apt_job" ] && kill "$apt_job" 2>/dev/null; [ -n "$apt_log" ] && rm -f "$apt_log"' EXIT
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" -eq 0 ]; then
    # As root (CI) the downloads overlap the tool builds below, which need none of them (the
    # C toolchain they use is the machine's own gcc).
    apt_log=$(mktemp)
    install_debian > "$apt_log" 2>&1 &
    apt_job=$!
  else
    install_debian
  fi
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi
for component in rustfmt clippy; do
  if ! rustup component list --installed | grep -q "^$component"; then
    say "adding $component"
    rustup component add "$component"
  fi
done

# wasm-pack uses the wasm-bindgen CLI on PATH only if it matches the library exactly.
bindgen_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3 }' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$bindgen_version" ]; then
  say "installing wasm-bindgen-cli $bindgen_version (a few minutes, once)"
  # Not --locked: the registry lacks the newest patch of one of its dependencies.
  cargo install wasm-bindgen-cli --version "$bindgen_version" --force
fi
if [ "$(wasm-pack --version 2>/dev/null | awk '{print $2}')" != "$WASM_PACK_VERSION" ]; then
  say "installing wasm-pack $WASM_PACK_VERSION (a few minutes, once)"
  cargo install wasm-pack --version "$WASM_PACK_VERSION" --force
fi

if [ "$(geckodriver --version 2>/dev/null | awk 'NR==1 {print $2}')" != "$GECKODRIVER_VERSION" ]; then
  say "installing geckodriver $GECKODRIVER_VERSION (a few minutes, once)"
  cargo install geckodriver --version "$GECKODRIVER_VERSION" --locked --force
fi

if [ -n "$apt_job" ]; then
  if ! wait "$apt_job"; then
    apt_job=
    cat "$apt_log"
    say "installing Debian packages failed"
    exit 1
  fi
  apt_job=
  say "Debian packages installed"
fi

# npm ci when node_modules does not match the lockfile.
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat node_modules/.rtcall-lock-hash 2>/dev/null)" != "$lock_hash" ]; then
  say "installing npm packages from package-lock.json"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" > node_modules/.rtcall-lock-hash
fi
