import pkg from "../package.json" with { type: "json" };

// build.ts replaces this identifier with the release version (bun build --define).
declare const __REGISTRATOR_VERSION__: string | undefined;

export const VERSION: string =
  typeof __REGISTRATOR_VERSION__ === "string" ? __REGISTRATOR_VERSION__ : `${pkg.version}-dev`;
