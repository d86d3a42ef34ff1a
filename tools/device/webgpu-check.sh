#!/usr/bin/env bash
# WebGPU device check (issue #13): on a machine with an NVIDIA GPU, in one go, in under 5 minutes:
#   1. the machine: GPU, Vulkan loader and ICDs, EGL (exactly which libraries are missing)
#   2. the WebGPU adapter Dawn finds (vendor, architecture, feature level, limits)
#   3. the webgpu golden tests (core, backbone-vit, seg-head, hidden-positives), required to run
#   4. timings: ViT-S/8 forward at 224 px, HP loss forward + backward at B = 8 and B = 64, beside the
#      same work on TF.js wasm and ONNX Runtime CPU (and a marked place for one training step)
# On a machine without a GPU it runs on Mesa's software adapter and says its timings mean nothing.
#
# usage: tools/device/webgpu-check.sh [--runs N] [--full] [--no-tests]
#   --runs N     timed runs per case after one warm-up (default 3; B = 64 runs once)
#   --full       also the HP loss's TF.js-op engine on wasm at B = 8 (the fused engine always runs)
#   --no-tests   skip stage 3
#
# Needs Node >= 20 and the repository's node_modules. On a bare copy of the repository it runs
# `npm ci` first, which needs the npm registry; a machine without it needs node_modules copied from
# a machine with the same platform (linux-x64) where `npm ci` ran. Nothing is built: the TypeScript
# sources run through tsx. Exit code: 0 all stages passed, 1 a stage failed, 2 no WebGPU adapter,
# 3 missing Node or node_modules.
set -uo pipefail
cd "$(dirname "$0")/../.."

echo "=== 0. prerequisites ==="
if ! command -v node >/dev/null; then
  echo "node: MISSING (Node >= 20 is needed)"; exit 3
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
echo "node $(node --version) at $(command -v node)"
if [ "$node_major" -lt 20 ]; then echo "node: too old (Node >= 20 is needed)"; exit 3; fi

# The libraries Dawn loads, checked before anything needs node_modules (so a bare machine still
# learns what it lacks). Dawn dlopens libvulkan.so.1 (Vulkan: the GPU path) and the unversioned
# libEGL.so (OpenGL: the software path and GPU EGL drivers).
if [ "$(uname -s)" = Linux ]; then
  have_lib() { # in the loader cache, or in a folder of LD_LIBRARY_PATH
    ldconfig -p 2>/dev/null | grep -qE "^[[:space:]]*$1 " && return 0
    local d
    for d in ${LD_LIBRARY_PATH//:/ }; do [ -e "$d/$1" ] && return 0; done
    return 1
  }
  for lib in libvulkan.so.1 libEGL.so libEGL.so.1; do
    if have_lib "$lib"; then echo "$lib: found"; else echo "$lib: MISSING"; fi
  done
  icds=$(ls /etc/vulkan/icd.d/*.json /usr/share/vulkan/icd.d/*.json /usr/local/share/vulkan/icd.d/*.json 2>/dev/null | tr '\n' ' ')
  echo "Vulkan ICD manifests: ${icds:-NONE}"
  if ls /dev/nvidia0 >/dev/null 2>&1 && ! echo "$icds" | grep -q nvidia; then
    echo "MISSING: nvidia_icd.json (the NVIDIA driver's Vulkan part; in a container NVIDIA_DRIVER_CAPABILITIES must include graphics)"
  fi
  if ! have_lib libvulkan.so.1; then echo "MISSING: libvulkan.so.1 (Debian/Ubuntu: apt-get install libvulkan1)"; fi
  if ! have_lib libEGL.so; then echo "MISSING: libEGL.so (Debian/Ubuntu: apt-get install libegl1 libegl-dev; Mesa software GL: libegl-mesa0 libgl1-mesa-dri)"; fi
fi

need=(node_modules/webgpu node_modules/@tensorflow/tfjs-backend-webgpu node_modules/@tensorflow/tfjs-backend-wasm node_modules/tsx node_modules/vitest node_modules/onnxruntime-node)
missing_modules=()
for m in "${need[@]}"; do [ -e "$m" ] || missing_modules+=("$m"); done
if [ ${#missing_modules[@]} -gt 0 ]; then
  echo "node_modules incomplete (${missing_modules[*]}): running npm ci"
  if ! npm ci --no-audit --no-fund; then
    echo "npm ci failed: this machine needs node_modules from 'npm ci' on a linux-x64 machine with the npm registry"
    exit 3
  fi
fi

exec node --conditions=@hpseg/source --import tsx tools/device/webgpu-check.ts "$@"
