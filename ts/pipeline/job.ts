/**
 * One pipeline job: a `contimg` command run in a child process. A child, not a call, so that a
 * native crash (a hostile file inside libhdf5), an out-of-memory kill or a leak ends one job and
 * not the night; every command is already atomic and registers its own products, so the
 * pipeline only decides what to run next.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { projectRoot } from '../project-root.js';

export interface JobOutcome {
  ok: boolean;
  /** The command's `--json` output, when it printed any. */
  json: unknown;
  /** The first error code the command reported (its JSON, else `[CODE]` on stderr). */
  code?: string;
  message?: string;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  seconds: number;
}

const BIN = path.join(projectRoot, 'bin', 'contimg');

/** Runs `contimg <argv…> --json` and collects what it said. */
export function runJob(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<JobOutcome> {
  // bin/contimg kills itself when this process is gone (an orphan would race our restart).
  env = { ...env, CONTIMG_PARENT_PID: String(process.pid) };
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...argv, '--json'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (err) => resolve({ ok: false, json: null, code: 'PIPELINE_SPAWN', message: err.message, exitCode: null, signal: null, seconds: (performance.now() - t0) / 1000 }));
    child.on('close', (exitCode, signal) => {
      let json: unknown = null;
      try {
        json = stdout.trim() ? JSON.parse(stdout) : null;
      } catch {
        // A command that died mid-output: its stderr says why.
      }
      const ok = exitCode === 0;
      const failure = ok ? undefined : firstFailure(json, stderr, exitCode, signal);
      resolve({ ok, json, code: failure?.code, message: failure?.message, exitCode, signal, seconds: (performance.now() - t0) / 1000 });
    });
  });
}

/** The code and message of the first failure the command reported. */
function firstFailure(json: unknown, stderr: string, exitCode: number | null, signal: NodeJS.Signals | null): { code: string; message: string } {
  const items = Array.isArray(json) ? json : json && typeof json === 'object' ? [json] : [];
  for (const it of items as { status?: string; code?: string; error?: string | { code?: string; message?: string } }[]) {
    if (it?.status === 'failed' && it.code) return { code: it.code, message: typeof it.error === 'string' ? it.error : (it.error?.message ?? '') };
  }
  const m = /\[([A-Z][A-Z0-9_]+)\]\s*(.*)/.exec(stderr);
  if (m) return { code: m[1]!, message: m[2]!.trim() };
  if (signal) return { code: 'PIPELINE_JOB_KILLED', message: `killed by ${signal}: ${tail(stderr)}` };
  return { code: 'PIPELINE_JOB_FAILED', message: `exited ${exitCode}: ${tail(stderr)}` };
}

const tail = (s: string) => s.trim().split('\n').slice(-5).join(' | ');
