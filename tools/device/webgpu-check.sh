#!/usr/bin/env bash
# WebGPU device check (issue #13): on a machine with an NVIDIA GPU, in one go, in under 5 minutes:
#   1. the machine: GPU, Vulkan loader and ICDs, EGL (exactly which libraries are missing)
#   2. the WebGPU adapter Dawn finds (vendor, architecture, feature level, limits)
#   3. the webgpu golden tests (core, backbone-vit, seg-head, hidden-positives), required to run
#   4. timings: ViT-S/8 forward at 224 px, HP loss forward + backward at B = 8 and B = 64, one
#      training step at B = 64, beside the same work on TF.js wasm and ONNX Runtime CPU
# On a machine without a GPU it runs on Mesa's software adapter and says its timings mean nothing.
#
# usage: bash tools/device/webgpu-check.sh [--from-source] [--runs N] [--full] [--no-tests]
#   --from-source  run the TypeScript sources through tsx and the tests through vitest (needs the
#                  repository's node_modules) even when the device bundle is here
#   --runs N       timed runs per case after one warm-up (default 3; B = 64 runs once)
#   --full         also the HP loss's TF.js-op engine on wasm at B = 8 (the fused engine always runs)
#   --no-tests     skip stage 3
#
# What it runs, in this order (tools/device/README.md):
#   - tools/device/bundle/hpseg-device.tar.gz, unpacked to tools/device/bundle/hpseg-device/ when the
#     tree is missing or older: the bundle of tools/device/build-bundle.mjs, run with plain `node`.
#     No node_modules, no npm registry: this is what a device machine carries;
#   - else an unpacked tools/device/bundle/hpseg-device/;
#   - else the sources with the repository's node_modules (tsx, vitest).
# Needs Node >= 20 (and, for the bundle, linux-x64, tar and gzip). Exit code: 0 all stages passed,
# 1 a stage failed, 2 no WebGPU adapter, 3 this machine cannot run the check (what is missing is
# printed).
set -uo pipefail
cd "$(dirname "$0")/../.."

BUNDLE_DIR=tools/device/bundle
TREE=$BUNDLE_DIR/hpseg-device
TARBALL=$BUNDLE_DIR/hpseg-device.tar.gz

from_source=0
args=()
for a in "$@"; do
  if [ "$a" = --from-source ]; then from_source=1; else args+=("$a"); fi
done

echo "=== 0. prerequisites ==="
if ! command -v node >/dev/null; then
  echo "MISSING: node (Node >= 20 is needed)"; exit 3
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
echo "node $(node --version) at $(command -v node); $(uname -s) $(uname -m); $(getconf GNU_LIBC_VERSION 2>/dev/null || echo 'glibc version unknown')"
if [ "$node_major" -lt 20 ]; then echo "MISSING: Node >= 20 (this is $(node --version))"; exit 3; fi

# The libraries Dawn loads, checked before anything else (so a bare machine still learns what it
# lacks). Dawn dlopens libvulkan.so.1 (Vulkan: the GPU path) and the unversioned libEGL.so (OpenGL:
# the software path and GPU EGL drivers); NVIDIA's Vulkan driver is libGLX_nvidia.so.0, named by
# its ICD manifest nvidia_icd.json.
LIB_DIRS="/usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu /usr/lib64 /lib64 /usr/lib /lib /usr/local/lib /usr/local/nvidia/lib64 /usr/local/nvidia/lib"
ldconfig_bin=$(command -v ldconfig || { [ -x /sbin/ldconfig ] && echo /sbin/ldconfig; } || { [ -x /usr/sbin/ldconfig ] && echo /usr/sbin/ldconfig; } || true)
find_lib() { # prints where the dynamic loader would find $1 (LD_LIBRARY_PATH, its cache, the usual folders)
  local d
  for d in ${LD_LIBRARY_PATH:+${LD_LIBRARY_PATH//:/ }}; do [ -e "$d/$1" ] && { echo "$d/$1"; return 0; }; done
  if [ -n "$ldconfig_bin" ]; then
    local hit
    hit=$("$ldconfig_bin" -p 2>/dev/null | awk -v n="$1" '$1 == n && /x86-64|x86_64/ { print $NF; exit }')
    [ -n "$hit" ] && { echo "$hit"; return 0; }
  fi
  for d in $LIB_DIRS; do [ -e "$d/$1" ] && { echo "$d/$1"; return 0; }; done
  return 1
}
missing=()
if [ "$(uname -s)" = Linux ]; then
  for lib in libvulkan.so.1 libEGL.so libEGL.so.1 libGLX_nvidia.so.0 libEGL_nvidia.so.0 libEGL_mesa.so.0; do
    if where=$(find_lib "$lib"); then echo "$lib: $where"; else echo "$lib: not found"; fi
  done
  icds=$(ls /etc/vulkan/icd.d/*.json /usr/share/vulkan/icd.d/*.json /usr/local/share/vulkan/icd.d/*.json 2>/dev/null | tr '\n' ' ')
  echo "Vulkan ICD manifests: ${icds:-NONE}${VK_DRIVER_FILES:+ (VK_DRIVER_FILES=$VK_DRIVER_FILES)}${VK_ICD_FILENAMES:+ (VK_ICD_FILENAMES=$VK_ICD_FILENAMES)}"
  nvidia=0
  if ls /dev/nvidia0 >/dev/null 2>&1; then
    nvidia=1
    echo "NVIDIA: $(ls /dev/nvidia* 2>/dev/null | tr '\n' ' ')"
    if command -v nvidia-smi >/dev/null; then
      echo "nvidia-smi: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -1)"
    fi
    echo "NVIDIA_DRIVER_CAPABILITIES=${NVIDIA_DRIVER_CAPABILITIES:-(unset)}"
  else
    echo "NVIDIA: no /dev/nvidia0 (no NVIDIA GPU visible here)"
  fi
  have_vulkan_loader=1
  find_lib libvulkan.so.1 >/dev/null || have_vulkan_loader=0
  if [ "$nvidia" = 1 ]; then
    if ! find_lib libGLX_nvidia.so.0 >/dev/null; then
      missing+=("libGLX_nvidia.so.0, NVIDIA's Vulkan driver (the driver's graphics part: in a container NVIDIA_DRIVER_CAPABILITIES must include graphics, e.g. compute,utility,graphics; on a host the package libnvidia-gl-<driver version>)")
    elif ! echo "$icds ${VK_DRIVER_FILES:-} ${VK_ICD_FILENAMES:-}" | grep -q nvidia; then
      missing+=("nvidia_icd.json, the Vulkan ICD manifest naming libGLX_nvidia.so.0 (the bundle run writes one below)")
    fi
  fi
  if [ -z "$icds" ] && [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ] \
    && ! { [ "$nvidia" = 1 ] && find_lib libGLX_nvidia.so.0 >/dev/null; }; then
    missing+=("a Vulkan ICD manifest (*.json in /usr/share/vulkan/icd.d or /etc/vulkan/icd.d): no Vulkan driver is installed, so Dawn finds no GPU (NVIDIA: the driver's nvidia_icd.json, naming libGLX_nvidia.so.0)")
  fi
  if [ "$have_vulkan_loader" = 0 ]; then
    missing+=("libvulkan.so.1, the Vulkan loader (Debian/Ubuntu package libvulkan1; the bundle carries one, used below)")
  fi
  if ! find_lib libEGL.so >/dev/null; then
    missing+=("libEGL.so, for Dawn's OpenGL backends, the software adapter's path (Debian/Ubuntu: libegl1 libegl-dev; Mesa software GL: libegl-mesa0 libgl1-mesa-dri)")
  fi
  for m in "${missing[@]}"; do echo "MISSING: $m"; done
fi

# Which way to run: the bundle (tarball or unpacked tree), else the sources with node_modules.
mode=
if [ "$from_source" = 0 ] && [ -f "$TARBALL" ]; then
  if [ ! -f "$TREE/manifest.json" ] || [ "$TARBALL" -nt "$TREE/manifest.json" ]; then
    for tool in tar gzip; do
      command -v "$tool" >/dev/null || { echo "MISSING: $tool (needed to unpack $TARBALL)"; exit 3; }
    done
    echo "unpacking $TARBALL ($(du -h "$TARBALL" | cut -f1)) into $TREE"
    rm -rf "$TREE.partial" && mkdir -p "$TREE.partial"
    if ! tar -xzf "$TARBALL" -C "$TREE.partial"; then echo "unpacking $TARBALL failed"; exit 3; fi
    rm -rf "$TREE" && mv "$TREE.partial/hpseg-device" "$TREE" && rm -rf "$TREE.partial"
  fi
  mode=bundle
elif [ "$from_source" = 0 ] && [ -f "$TREE/manifest.json" ]; then
  mode=bundle
else
  need=(node_modules/webgpu node_modules/@tensorflow/tfjs-backend-webgpu node_modules/@tensorflow/tfjs-backend-wasm node_modules/tsx node_modules/vitest node_modules/onnxruntime-node)
  missing_modules=()
  for m in "${need[@]}"; do [ -e "$m" ] || missing_modules+=("$m"); done
  if [ ${#missing_modules[@]} -gt 0 ]; then
    if [ "$from_source" = 1 ]; then
      echo "MISSING: ${missing_modules[*]} (--from-source needs the repository's node_modules: npm ci)"
    else
      echo "MISSING: the device bundle ($TARBALL or $TREE/) and node_modules (${missing_modules[*]})."
      echo "  Build the bundle where node_modules are: node tools/device/build-bundle.mjs; then carry $TARBALL (tools/device/README.md)."
    fi
    exit 3
  fi
  mode=source
fi

if [ "$mode" = source ]; then
  echo "running the sources with node_modules (tsx, vitest)"
  exec node --conditions=@hpseg/source --import tsx tools/device/webgpu-check.ts ${args[@]+"${args[@]}"}
fi

manifest() { node -e 'const m = require(process.argv[1]); console.log(eval(process.argv[2]))' "$PWD/$TREE/manifest.json" "$1"; }
echo "running the device bundle $TREE (built $(manifest m.builtAt) from $(manifest 'm.commit ?? "an unknown commit"'), $(manifest m.platform))"
if [ "$(uname -s)-$(uname -m)" != Linux-x86_64 ]; then
  echo "MISSING: a linux-x64 machine (the bundle carries linux-x64 native files only; this is $(uname -s)-$(uname -m))"; exit 3
fi

# The bundle's native files: what each needs that this machine lacks (ldd), and whether it loads.
for f in $(manifest 'm.natives.filter((n) => /\.(node|so[.0-9]*)$/.test(n.path)).map((n) => n.path).join(" ")'); do
  needs=$(manifest "(m.natives.find((n) => n.path === '$f') ?? {}).glibc ?? ''")
  absent=$(ldd "$TREE/$f" 2>&1 | awk '/not found/ { print $1 }' | tr '\n' ' ')
  if [ -n "$absent" ]; then
    echo "MISSING for $f: $absent"
  fi
  case "$f" in
    *.node)
      if err=$(node -e 'process.dlopen({ exports: {} }, process.argv[1])' "$PWD/$TREE/$f" 2>&1); then
        echo "$f: loads (needs ${needs:-?})"
      else
        echo "MISSING for $f: it does not load (needs ${needs:-?}): $(echo "$err" | grep -m1 -E 'Error|error|not found' || echo "$err" | head -1)"
      fi
      ;;
  esac
done

# Fallbacks the bundle brings: the Vulkan loader, and NVIDIA's ICD manifest where only it is absent.
if [ "$(uname -s)" = Linux ] && ! find_lib libvulkan.so.1 >/dev/null && [ -e "$TREE/lib/libvulkan.so.1" ]; then
  export LD_LIBRARY_PATH="$PWD/$TREE/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  echo "using the bundled Vulkan loader $TREE/lib/libvulkan.so.1 ($(manifest m.vulkanLoader))"
fi
if [ "${nvidia:-0}" = 1 ] && glx=$(find_lib libGLX_nvidia.so.0) \
  && ! echo "${icds:-} ${VK_DRIVER_FILES:-} ${VK_ICD_FILENAMES:-}" | grep -q nvidia; then
  mkdir -p "$TREE/icd"
  printf '{ "file_format_version": "1.0.0", "ICD": { "library_path": "%s", "api_version": "1.3.0" } }\n' "$glx" > "$TREE/icd/nvidia_icd.json"
  export VK_DRIVER_FILES="$PWD/$TREE/icd/nvidia_icd.json" VK_ICD_FILENAMES="$PWD/$TREE/icd/nvidia_icd.json"
  echo "wrote $TREE/icd/nvidia_icd.json for $glx (VK_DRIVER_FILES)"
fi

exec node "$TREE/webgpu-check.js" ${args[@]+"${args[@]}"}
