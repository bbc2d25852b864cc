/**
 * The part of WebAssembly's JavaScript API that qr/scan-decode.ts uses. Node has all of it, but
 * @types/node 20 does not declare it, and the DOM library that does would bring the browser's
 * globals with it.
 */
declare namespace WebAssembly {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- opaque: only handed back to instantiate()
  interface Module {}
  interface Instance {
    readonly exports: Record<string, unknown>;
  }
  type Imports = Record<string, Record<string, unknown>>;
  function compile(bytes: Uint8Array): Promise<Module>;
  function instantiate(module: Module, imports?: Imports): Promise<Instance>;
}
