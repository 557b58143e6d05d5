/** Shared test helpers: run the CLI in-process, make temp dirs, call the Python oracles. */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { run } from '../ts/cli/main.js';
import type { Io } from '../ts/cli/io.js';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const python = path.join(root, '.venv', 'bin', 'python');
export const bin = path.join(root, 'bin', 'contimg');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `contimg argv…` in this process, capturing its output. */
export async function cli(...argv: string[]): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const io: Io = { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), isTTY: false };
  const code = await run(argv, io);
  return { code, stdout, stderr };
}

/** Like `cli` but parses stdout as JSON and insists on success. */
export async function cliJson<T = any>(...argv: string[]): Promise<T> {
  const r = await cli(...argv, '--json');
  if (r.code !== 0) throw new Error(`contimg ${argv.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** `value`, which the test cannot go on without; throws naming `what` where it is missing. */
export function defined<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`missing: ${what}`);
  return value;
}

const tmpDirs: string[] = [];

export function tmpDir(prefix = 'contimg-test-'): string {
  const d = mkdtempSync(path.join(os.tmpdir(), prefix));
  tmpDirs.push(d);
  return d;
}

export function cleanupTmpDirs(): void {
  for (const d of tmpDirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

const execFileP = promisify(execFile);

/** Runs `test/oracle/<script>` in the oracle virtualenv and parses its JSON output. */
export async function oracle<T = any>(script: string, ...args: string[]): Promise<T> {
  const { stdout } = await execFileP(python, [path.join(root, 'test', 'oracle', script), ...args], {
    maxBuffer: 256 << 20,
    env: { ...process.env, PYTHONWARNINGS: 'ignore' },
  }).catch((e: { stderr?: string; message: string }) => {
    throw new Error(`oracle ${script} failed: ${e.stderr || e.message}`);
  });
  return JSON.parse(stdout) as T;
}

/** Small simulated groups, fast enough for unit tests. */
/**
 * Runs the compiled CLI as its own process (for crash tests: fault points in `env`, or a SIGKILL
 * after `killAfterMs`) and resolves with how it ended and how long it ran.
 */
export function runCli(args: string[], env: Record<string, string> = {}, killAfterMs?: number): Promise<{ code: number | null; signal: string | null; ms: number }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(bin, args, { env: { ...process.env, ...env }, stdio: 'ignore' });
    const timer = killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, ms: Date.now() - t0 });
    });
  });
}

export const SMALL = ['--antennas', '8', '--channels', '8', '--integrations', '4'] as const;

/** A deterministic random generator (mulberry32): the same seed, the same sequence. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
