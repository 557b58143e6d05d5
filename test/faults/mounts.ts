/**
 * Real file-system faults for tests: size-limited tmpfs mounts (a full disk), read-only remounts,
 * and the CLI run as a child process (so that an abort shows as a signal, not a dead test worker).
 * Mounting needs root, as CI has; every mount is unmounted in teardown (`unmountAll`).
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bin } from '../helpers.js';

const mounted: string[] = [];

/** A fresh directory with a tmpfs of `sizeKb` kilobytes mounted on it. */
export function smallFs(sizeKb: number): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'contimg-fault-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKb}k`, 'tmpfs', dir]);
  mounted.push(dir);
  return dir;
}

export function resizeFs(dir: string, sizeKb: number): void {
  execFileSync('mount', ['-o', `remount,size=${sizeKb}k`, dir]);
}

export function remountReadOnly(dir: string): void {
  execFileSync('mount', ['-o', 'remount,ro', dir]);
}

export function unmountAll(): void {
  for (const dir of mounted.splice(0).reverse()) {
    try {
      execFileSync('umount', [dir]);
    } catch {
      // Busy (a test failed with a child still running): detach it anyway, never leave it behind.
      execFileSync('umount', ['-l', dir]);
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Every entry under `dir`, recursively, relative to it (hidden ones included). */
export function listTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const r = path.join(rel, e.name);
      out.push(r);
      if (e.isDirectory()) walk(path.join(d, e.name), r);
    }
  };
  walk(dir, '');
  return out;
}

export interface ChildResult {
  /** Exit status, or null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

/** Runs `contimg argv…` as a child process, killed after `timeoutS`. */
export function contimg(argv: string[], opts: { timeoutS?: number; env?: NodeJS.ProcessEnv } = {}): Promise<ChildResult> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    execFile(
      bin,
      argv,
      { timeout: (opts.timeoutS ?? 120) * 1000, killSignal: 'SIGKILL', maxBuffer: 64 << 20, env: { ...process.env, ...opts.env } },
      (err, stdout, stderr) => {
        const e = err as (Error & { code?: number | string; signal?: NodeJS.Signals | null }) | null;
        resolve({
          code: e ? (typeof e.code === 'number' ? e.code : null) : 0,
          signal: e?.signal ?? null,
          stdout: String(stdout),
          stderr: String(stderr),
          seconds: (Date.now() - t0) / 1000,
        });
      },
    );
  });
}
