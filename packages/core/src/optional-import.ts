/** Imports a package by a computed name, so bundlers and tsc do not require it to be installed. */
export async function importOptional(packageName: string): Promise<unknown> {
  const specifier: string = packageName;
  return import(specifier);
}

/** True when `error` is Node's "module not found" for `packageName` (not an error inside the package). */
export function isModuleMissing(error: unknown, packageName: string): boolean {
  const e = error as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? e.code : '';
  const message = typeof e?.message === 'string' ? e.message : '';
  return (
    (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') &&
    (message.includes(packageName) || message.includes('Cannot find'))
  );
}
