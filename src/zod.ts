// zod for registrator: the mini build (the same checks as zod's classic API with far less code
// loaded: about 4 MiB less resident in the compiled executable; schemas are built by functions,
// not methods), with English messages, and without zod's per-schema parsers compiled through
// new Function (a few MiB of memory for microseconds on inputs read once per start or event).
import en from "zod/v4/locales/en.js";
import * as z from "zod/mini";

z.config({ ...en(), jitless: true });

export { z };
