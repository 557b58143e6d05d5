/**
 * SIGKILL at several points of a conversion: the output directory holds either nothing or a
 * complete MS, a rerun converts cleanly, and the DATA are byte-identical to an uninterrupted
 * conversion — also when the rerun resumes from a checkpoint.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { native } from '../../ts/native.js';
import { bin, cleanupTmpDirs, cliJson, tmpDir } from '../helpers.js';

afterAll(cleanupTmpDirs);

let input: string;
let group: string;
let reference: ReturnType<ReturnType<typeof native>['msDigest']>;
let fullMs: number;

/** Runs the CLI in a child process, SIGKILLs it after `killAfterMs` (if given). */
function runConvert(args: string[], killAfterMs?: number): Promise<{ code: number | null; signal: string | null; stdout: string; ms: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, [bin, 'convert', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', () => undefined);
    const timer = killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.on('exit', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code, signal, stdout, ms: Date.now() - started });
    });
  });
}

/** Visible entries of the output directory must be nothing or complete Measurement Sets. */
function assertNothingPartial(out: string): void {
  for (const name of readdirSync(out).filter((n) => !n.startsWith('.'))) {
    expect(name).toBe(`${group}.ms`);
    const d = native().msDigest(path.join(out, name));
    expect(d.data).toBe(reference.data);
  }
}

beforeAll(async () => {
  input = tmpDir();
  const s = await cliJson('simulate', '--output-dir', input, '--antennas', '40', '--channels', '48', '--integrations', '24', '--seed', '9');
  group = s.groups[0].group;
  const out = tmpDir();
  const r = await runConvert(['--input-dir', input, '--output-dir', out, '--json', '--chunk-integrations', '1']);
  expect(r.code).toBe(0);
  fullMs = r.ms;
  reference = native().msDigest(path.join(out, `${group}.ms`));
}, 600_000);

describe('SIGKILL during a conversion', () => {
  it('never leaves a partial MS where a user would find it, and a rerun gives identical DATA', async () => {
    for (const staging of [['--no-tmpfs'], [], ['--staging', 'tmpfs']]) {
      const out = tmpDir();
      for (const fraction of [0.15, 0.4, 0.65, 0.9]) {
        const r = await runConvert(['--input-dir', input, '--output-dir', out, '--json', '--chunk-integrations', '1', ...staging], fraction * fullMs);
        if (r.signal === 'SIGKILL') assertNothingPartial(out);
      }
      const done = await runConvert(['--input-dir', input, '--output-dir', out, '--json', '--chunk-integrations', '1', ...staging]);
      expect(done.code).toBe(0);
      assertNothingPartial(out);
      expect(existsSync(path.join(out, `${group}.ms`))).toBe(true);
      // Abandoned staging directories of the killed runs are gone.
      expect(readdirSync(out).filter((n) => n.startsWith('.'))).toEqual([]);
      const d = native().msDigest(path.join(out, `${group}.ms`));
      expect(d).toEqual(reference);
    }
  }, 600_000);

  it('resumes from its checkpoint and ends with the same bytes', async () => {
    const out = tmpDir();
    const checkpoints = tmpDir();
    let resumed = 0;
    for (const fraction of [0.5, 0.7, 0.85, 0.6, 0.8]) {
      const args = ['--input-dir', input, '--output-dir', out, '--json', '--chunk-integrations', '1', '--checkpoint-dir', checkpoints, '--no-tmpfs'];
      const killed = await runConvert(args, fraction * fullMs);
      if (killed.signal !== 'SIGKILL') continue;
      assertNothingPartial(out);
      const r = await runConvert(args);
      expect(r.code).toBe(0);
      const s = JSON.parse(r.stdout);
      const g = s.groups[0];
      if (!g.skipped && g.resumedFromRow > 0) resumed++;
      expect(native().msDigest(path.join(out, `${group}.ms`))).toEqual(reference);
      // Start over for the next kill.
      (await import('node:fs')).rmSync(path.join(out, `${group}.ms`), { recursive: true });
    }
    expect(resumed).toBeGreaterThan(0);
    expect(readdirSync(checkpoints)).toEqual([]);
  }, 600_000);
});
