/**
 * `--use-subprocess`: each conversion runs in a child Node process (ts/stream/child.ts, run from
 * the compiled dist/), so even a crash inside the native core (a segfault, an abort in a C
 * library) fails only that attempt, not the service. The child gets the job over IPC, reports
 * progress back (the claim's heartbeat) and its result or error; aborting asks it to stop at the
 * next chunk boundary (leaving a checkpoint), and it is killed if it does not within a grace period.
 */
import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Converter, ConvertJob, ConvertOptions, ConvertProgress, ConvertResult } from '../convert/types.js';
import { ContimgError } from '../error.js';
import { projectRoot } from '../project-root.js';

/**
 * Parent → child. Publishing is fenced across the process boundary: the child asks (`fence`),
 * the parent opens its fence and answers `fence-go` (or `fence-refused`), and holds it open until
 * the child reports `fenced` (the rename done) or dies.
 */
export type ToChild =
  | { type: 'convert'; job: ConvertJob; opts: ConvertOptions; converterModule?: string; fenced: boolean }
  | { type: 'abort' }
  | { type: 'fence-go' }
  | { type: 'fence-refused' };
/** Child → parent. */
export type FromChild =
  | { type: 'progress'; progress: ConvertProgress }
  | { type: 'fence' }
  | { type: 'fenced'; ok: boolean; message?: string }
  | { type: 'result'; result: ConvertResult }
  | { type: 'error'; code: string; message: string };

/** The compiled child entry (`npm run build` produces it). */
export const CHILD_ENTRY = path.join(projectRoot, 'dist', 'stream', 'child.js');

export interface ChildConverterOptions {
  /** A module exporting `converter`, loaded by the child instead of the built-in converter. */
  converterModule?: string;
  /** Extra environment for the child (thread caps). */
  env?: Record<string, string>;
  /** How long an aborted child may take to stop before it is killed (ms). */
  abortGraceMs?: number;
}

const STDERR_TAIL_BYTES = 4096;

export function childConverter(o: ChildConverterOptions = {}): Converter {
  return (job, opts, hooks = {}) =>
    new Promise<ConvertResult>((resolve, reject) => {
      if (!existsSync(CHILD_ENTRY)) {
        reject(new ContimgError('STREAM_CHILD_MISSING', `${CHILD_ENTRY} is missing; run \`npm run build\` (--use-subprocess runs the compiled converter entry)`));
        return;
      }
      const child = fork(CHILD_ENTRY, [], {
        // Whatever loaders or flags the parent runs under (a test runner's) are not the child's.
        execArgv: [],
        env: { ...process.env, ...o.env },
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
        serialization: 'json',
      });
      let stderrTail = '';
      child.stderr?.setEncoding('utf8');
      child.stderr?.on('data', (d: string) => {
        stderrTail = (stderrTail + d).slice(-STDERR_TAIL_BYTES);
      });
      let settled = false;
      let killTimer: NodeJS.Timeout | undefined;
      const settle = (fn: () => void) => {
        if (settled) return;
        settled = true;
        hooks.signal?.removeEventListener('abort', onAbort);
        fn();
      };
      const onAbort = () => {
        if (child.connected) child.send({ type: 'abort' } satisfies ToChild);
        killTimer = setTimeout(() => child.kill('SIGKILL'), o.abortGraceMs ?? 30_000);
      };
      // While the parent's fence is open for the child's rename: how to close it.
      let closeFence: ((err?: Error) => void) | undefined;
      const onFence = () => {
        const fence = hooks.fence!;
        void fence(
          () =>
            new Promise<void>((res, rej) => {
              closeFence = (err) => {
                closeFence = undefined;
                if (err) rej(err);
                else res();
              };
              child.send({ type: 'fence-go' } satisfies ToChild);
            }),
        ).then(
          (ok) => {
            if (!ok && child.connected) child.send({ type: 'fence-refused' } satisfies ToChild);
          },
          () => undefined,
        );
      };
      child.on('message', (m: FromChild) => {
        if (m.type === 'progress') hooks.onProgress?.(m.progress);
        else if (m.type === 'fence') onFence();
        else if (m.type === 'fenced') closeFence?.(m.ok ? undefined : new Error(m.message ?? 'the move failed'));
        else if (m.type === 'result') settle(() => resolve(m.result));
        else if (m.type === 'error') settle(() => reject(new ContimgError(m.code, m.message)));
      });
      child.on('error', (err) => settle(() => reject(new ContimgError('STREAM_CHILD_FAILED', `converter process for ${job.groupId} could not run: ${err.message}`))));
      child.on('exit', (code, signal) => {
        if (killTimer) clearTimeout(killTimer);
        closeFence?.(new Error(`converter process ${child.pid} died while publishing`));
        const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
        const tail = stderrTail.trim() ? `; its last output: ${stderrTail.split('\n').map((l) => l.trim()).filter(Boolean).slice(-5).join(' | ')}` : '';
        settle(() => reject(new ContimgError('STREAM_CHILD_CRASHED', `converter process ${child.pid} for ${job.groupId} ${how} before reporting a result${tail}`)));
      });
      if (hooks.signal?.aborted) onAbort();
      else hooks.signal?.addEventListener('abort', onAbort, { once: true });
      child.send({ type: 'convert', job, opts, converterModule: o.converterModule, fenced: hooks.fence !== undefined } satisfies ToChild);
    });
}
