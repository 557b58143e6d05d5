/** Where a command writes. Tests pass buffers; the real CLI passes the process streams. */
export interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** True when stderr is an interactive terminal (progress bars, readable logs). */
  isTTY: boolean;
}

export const processIo: Io = {
  stdout: (t) => void process.stdout.write(t),
  stderr: (t) => void process.stderr.write(t),
  isTTY: Boolean(process.stderr.isTTY),
};

/** Prints a result as JSON (with --json) or as human-readable text. */
export function report(io: Io, json: boolean, value: unknown, text: () => string): void {
  if (json) io.stdout(JSON.stringify(value, null, 2) + '\n');
  else io.stdout(text());
}
