#!/usr/bin/env bun
// Entry point: the program, loaded as one import so that the runtime starts it as early as it can.
// (Memory that only starting up touched is returned after the first registration, off the path to
// it: Runtime.settled, src/runtime/trim.ts.)
await import("./main.ts");

export {};
