// Lines to stdout and stderr, written before the call returns: a log line written before a crash
// is a line not lost in a buffer, and `registrator services --json | …` is whole even when the
// process exits right after. Bun's and Deno's consoles write one string argument as it is (no
// format directives, no colour), synchronously, waiting for a full pipe, and quietly when the
// reader has gone. Not node:fs's writeSync nor process.stdout: loading either costs milliseconds of
// every start, on the way to the first registration (bench/startup.ts).

/** Writes `line` and a newline to stdout (1) or stderr (2). */
export function writeLine(fd: 1 | 2, line: string): void {
  if (fd === 1) console.log(line);
  else console.error(line);
}
