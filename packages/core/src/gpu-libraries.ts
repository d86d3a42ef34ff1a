import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** What a Linux machine offers Dawn (the `webgpu` package) to find an adapter with. */
export interface GpuLibraryReport {
  /** `process.platform`; the checks below only run on linux (elsewhere every list is empty). */
  readonly platform: string;
  /** Where `libvulkan.so.1` (the Vulkan loader, Debian `libvulkan1`) was found, or null. */
  readonly vulkanLoader: string | null;
  /** Where the unversioned `libEGL.so` was found, or null. Dawn's OpenGL backends dlopen exactly this name (Debian `libegl-dev`). */
  readonly egl: string | null;
  /** Where `libEGL.so.1` (the EGL dispatcher, Debian `libegl1`) was found, or null. */
  readonly eglRuntime: string | null;
  /** Mesa's EGL vendor library `libEGL_mesa.so.0` (Debian `libegl-mesa0`), or null. */
  readonly eglMesa: string | null;
  /** Vulkan ICD manifests (`*.json` in the loader's search folders, or `VK_DRIVER_FILES`/`VK_ICD_FILENAMES`), with the library each names. */
  readonly vulkanIcds: readonly { readonly manifest: string; readonly library: string | null }[];
  /** glvnd EGL vendor manifests (`10_nvidia.json`, `50_mesa.json`, ...): which EGL drivers libEGL.so.1 can dispatch to. */
  readonly eglVendors: readonly string[];
  /** `/dev/nvidia*` device nodes present (an NVIDIA driver is loaded and visible here). */
  readonly nvidiaDevices: readonly string[];
  /** Missing pieces, one line each, with the Debian package or driver part that provides them. */
  readonly missing: readonly string[];
}

const EGL_VENDOR_FOLDERS = [
  '/etc/glvnd/egl_vendor.d',
  '/usr/share/glvnd/egl_vendor.d',
  '/usr/local/share/glvnd/egl_vendor.d',
];

const ICD_FOLDERS = [
  '/etc/vulkan/icd.d',
  '/usr/local/share/vulkan/icd.d',
  '/usr/share/vulkan/icd.d',
  '/usr/local/etc/vulkan/icd.d',
];

function libraryFolders(): string[] {
  const fromEnv = (process.env.LD_LIBRARY_PATH ?? '').split(delimiter).filter((d) => d !== '');
  return [
    ...fromEnv,
    `/usr/lib/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`,
    `/lib/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`,
    '/usr/lib64',
    '/lib64',
    '/usr/lib',
    '/lib',
    '/usr/local/lib',
  ];
}

function findLibrary(name: string, folders: readonly string[]): string | null {
  for (const folder of folders) {
    const path = join(folder, name);
    if (existsSync(path)) return path;
  }
  return null;
}

function jsonFiles(folders: readonly string[]): string[] {
  const out: string[] = [];
  for (const folder of folders) {
    try {
      for (const name of readdirSync(folder).sort()) if (name.endsWith('.json')) out.push(join(folder, name));
    } catch {
      // folder absent
    }
  }
  return out;
}

function icdManifests(): string[] {
  const explicit = process.env.VK_DRIVER_FILES ?? process.env.VK_ICD_FILENAMES;
  if (explicit) return explicit.split(delimiter).filter((p) => p !== '');
  return jsonFiles(ICD_FOLDERS);
}

function icdLibrary(manifest: string): string | null {
  try {
    const json = JSON.parse(readFileSync(manifest, 'utf8')) as { ICD?: { library_path?: unknown } };
    return typeof json.ICD?.library_path === 'string' ? json.ICD.library_path : null;
  } catch {
    return null;
  }
}

/**
 * Looks for the shared libraries and Vulkan driver manifests Dawn needs on Linux, without loading
 * any of them: the Vulkan loader plus an ICD for a GPU (NVIDIA: the driver's `nvidia_icd.json`),
 * or EGL + Mesa for the software OpenGL adapter. Used in `selectBackend('webgpu')`'s error and by
 * `tools/device/webgpu-check.sh`.
 */
export function gpuLibraryReport(): GpuLibraryReport {
  if (process.platform !== 'linux') {
    return {
      platform: process.platform,
      vulkanLoader: null,
      egl: null,
      eglRuntime: null,
      eglMesa: null,
      vulkanIcds: [],
      eglVendors: [],
      nvidiaDevices: [],
      missing: [],
    };
  }
  const folders = libraryFolders();
  const vulkanLoader = findLibrary('libvulkan.so.1', folders);
  const egl = findLibrary('libEGL.so', folders);
  const eglRuntime = findLibrary('libEGL.so.1', folders);
  const eglMesa = findLibrary('libEGL_mesa.so.0', folders);
  const vulkanIcds = icdManifests().map((manifest) => ({ manifest, library: icdLibrary(manifest) }));
  let nvidiaDevices: string[] = [];
  try {
    nvidiaDevices = readdirSync('/dev')
      .filter((d) => /^nvidia(\d+|ctl)$/.test(d))
      .map((d) => `/dev/${d}`);
  } catch {
    // no /dev listing
  }
  const missing: string[] = [];
  if (vulkanLoader === null) missing.push('libvulkan.so.1 (Vulkan loader: Debian/Ubuntu package libvulkan1)');
  if (vulkanIcds.length === 0) {
    missing.push(
      'a Vulkan ICD manifest in /usr/share/vulkan/icd.d or /etc/vulkan/icd.d (NVIDIA: nvidia_icd.json from the driver; in a container, NVIDIA_DRIVER_CAPABILITIES must include graphics)',
    );
  } else if (nvidiaDevices.length > 0 && !vulkanIcds.some((i) => /nvidia/i.test(i.manifest))) {
    missing.push(
      'nvidia_icd.json: /dev/nvidia* exists but no NVIDIA Vulkan ICD manifest was found (install the driver’s Vulkan part, e.g. libnvidia-gl-<version>; in a container set NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics)',
    );
  }
  if (egl === null) {
    missing.push(
      eglRuntime === null
        ? 'libEGL.so (EGL, for the OpenGL adapters: Debian packages libegl1 libegl-dev)'
        : 'libEGL.so, the unversioned name Dawn opens (only libEGL.so.1 is here: Debian package libegl-dev)',
    );
  }
  if (eglMesa === null) {
    missing.push(
      'libEGL_mesa.so.0 (software OpenGL through Mesa: Debian packages libegl-mesa0 libgl1-mesa-dri)',
    );
  }
  const eglVendors = process.env.__EGL_VENDOR_LIBRARY_FILENAMES
    ? process.env.__EGL_VENDOR_LIBRARY_FILENAMES.split(delimiter).filter((p) => p !== '')
    : jsonFiles(EGL_VENDOR_FOLDERS);
  return {
    platform: 'linux',
    vulkanLoader,
    egl,
    eglRuntime,
    eglMesa,
    vulkanIcds,
    eglVendors,
    nvidiaDevices,
    missing,
  };
}
