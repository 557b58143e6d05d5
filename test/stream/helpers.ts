/** Helpers for the streaming-service tests. */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { LABEL_RANK, createLogger, type LevelLabel, type Logger } from '../../ts/log.js';
import { DEFAULT_CONVERT_OPTIONS } from '../../ts/convert/types.js';
import type { StreamConfig } from '../../ts/stream/service.js';
import { root } from '../helpers.js';
import { queueDb } from './backend.js';

export const fixtures = path.join(root, 'test', 'stream', 'fixtures');
export const testConverterModule = path.join(fixtures, 'test-converter.mjs');

/** A logger whose JSON lines are kept for assertions. */
export function captureLog(level = 'debug'): { log: Logger; lines: Record<string, any>[]; msgs: (minLevel?: LevelLabel) => string[] } {
  const lines: Record<string, any>[] = [];
  const log = createLogger({
    level,
    json: true,
    destination: {
      write: (s: string) => {
        for (const l of s.split('\n')) if (l.trim()) lines.push(JSON.parse(l));
      },
    },
  });
  return { log, lines, msgs: (minLevel?: LevelLabel) => lines.filter((l) => !minLevel || LABEL_RANK[l.level as LevelLabel] >= LABEL_RANK[minLevel]).map((l) => String(l.msg)) };
}
export const WARN: LevelLabel = 'WARNING';
export const ERROR: LevelLabel = 'ERROR';

/**
 * Polls `fn` until it returns something truthy, at most `timeoutMs`. For conditions that no
 * event announces (another process's database writes, files appearing).
 */
export async function waitFor<T>(fn: () => T | Promise<T>, what: string, timeoutMs = 15_000, intervalMs = 20): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await fn();
    if (last) return last as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** A deterministic random generator. */
export { seededRandom as rng } from '../helpers.js';

export function shuffle<T>(xs: T[], rand: () => number): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

export function stamp(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19);
}

export function subbandName(timestamp: string, sb: number): string {
  return `${timestamp}_sb${String(sb).padStart(2, '0')}.hdf5`;
}

/** Names of one group's files, each stamped with its node's clock (jitter within ±jitterS/2). */
export function groupNames(startMs: number, opts: { subbands?: number; jitterS?: number; rand?: () => number } = {}): { name: string; sb: number; timeMs: number }[] {
  const rand = opts.rand ?? Math.random;
  const out = [];
  for (let sb = 0; sb < (opts.subbands ?? 16); sb++) {
    const timeMs = startMs + Math.round(rand() * (opts.jitterS ?? 0)) * 1000;
    out.push({ name: subbandName(stamp(timeMs), sb), sb, timeMs });
  }
  return out;
}

/** Writes a file the way the correlator does: under `_incomplete`, then renamed into place. */
export function deliver(dir: string, name: string, bytes = 1024): string {
  const final = path.join(dir, name);
  const temp = final.replace(/\.hdf5$/, '_incomplete.hdf5');
  writeFileSync(temp, Buffer.alloc(bytes, 7));
  renameSync(temp, final);
  return final;
}

/**
 * A test's service configuration: its queue is named as `queueDb()` names it (a SQLite path or a
 * PostgreSQL URL, never a parsed DbTarget, so `operatorSql` can take it), and it writes the flat
 * output in `outputDir`.
 */
export type TestStreamConfig = StreamConfig & { queueDb: string; outputDir: string };

/** A service configuration for tests: fast polling, no monitoring, small timeouts. */
export function testConfig(dir: string, over: Partial<TestStreamConfig> = {}): TestStreamConfig {
  return {
    role: 'both',
    leaseS: 60,
    inputDir: path.join(dir, 'in'),
    outputDir: path.join(dir, 'out'),
    queueDb: queueDb(dir),
    checkpointDir: path.join(dir, 'checkpoints'),
    scratchDir: path.join(dir, 'scratch'),
    chunkDurationMin: 5,
    ompThreads: 2,
    useSubprocess: false,
    stageInputs: false,
    stageWorkers: 2,
    cleanupTemp: true,
    monitoring: false,
    monitorIntervalS: 60,
    profile: false,
    expectedSubbands: 16,
    maxRetries: 3,
    maxCrashRecoveries: 5,
    retryBackoffS: 0.05,
    inProgressTimeoutS: 900,
    collectingTimeoutS: 600,
    pollIntervalS: 0.2,
    workerPollIntervalS: 0.1,
    watchMode: 'auto',
    settleS: 0.3,
    groupToleranceS: 60,
    queueDepthWarn: 10,
    minFreeOutputBytes: 0,
    minFreeScratchBytes: 0,
    layout: null,
    convert: { ...DEFAULT_CONVERT_OPTIONS },
    staging: { tmpfsPath: '/dev/shm', noTmpfs: true, keepTemp: false },
    commandLine: 'contimg stream (test)',
    ...over,
  };
}

function newestMtime(dir: string, ext: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestMtime(p, ext));
    else if (e.name.endsWith(ext)) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * Child processes run the compiled CLI (dist/), as users do. Recompiles when a TypeScript source
 * is newer than the compiled stream modules, under a lock so parallel test files compile once.
 * Other engineers' in-progress type errors do not stop tsc from emitting.
 */
export function ensureDist(): void {
  const marker = path.join(root, 'dist', 'stream', 'child.js');
  const lock = path.join(root, 'dist', '.stream-tests-build.lock');
  const fresh = () => existsSync(marker) && statSync(marker).mtimeMs >= newestMtime(path.join(root, 'ts'), '.ts');
  if (fresh()) return;
  mkdirSync(path.dirname(lock), { recursive: true });
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`waited too long for ${lock}`);
      if (Date.now() - statSync(lock).mtimeMs > 300_000) rmdirSync(lock);
      execFileSync('sleep', ['0.2']);
    }
  }
  try {
    if (fresh()) return;
    try {
      execFileSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(root, 'tsconfig.json')], { stdio: 'pipe' });
    } catch (err) {
      if (!existsSync(marker)) throw err;
    }
    // tsc leaves an unchanged output's mtime alone; mark the build as current.
    const now = new Date();
    utimesSync(marker, now, now);
  } finally {
    rmdirSync(lock);
  }
}

export interface Spawned {
  child: ChildProcess;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs the compiled CLI in a child process. */
export function spawnCli(args: string[], env: Record<string, string> = {}): Spawned {
  const child = spawn(process.execPath, [path.join(root, 'bin', 'contimg'), ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let err = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => (err += d));
  child.stdout!.resume();
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, stderr: () => err, exit };
}

/** JSON log lines a spawned service wrote to stderr. */
export function logLines(stderr: string): Record<string, any>[] {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, any>);
}
