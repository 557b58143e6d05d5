import { afterAll, describe, expect, it } from 'vitest';
import { callNative, native } from '../../ts/native.js';
import { asContimgError } from '../../ts/error.js';
import { cleanupTmpDirs, tmpDir } from '../helpers.js';

afterAll(cleanupTmpDirs);

describe('the Rust/JS boundary', () => {
  it('turns a Rust panic into a JS exception with a code, and Node keeps running', () => {
    expect(() => native().debugPanic('deliberate')).toThrowError(/deliberate/);
    try {
      native().debugPanic('again');
    } catch (e) {
      expect((e as { code: string }).code).toBe('INTERNAL_PANIC');
    }
    expect(native().nativeVersion()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('rejects async jobs with the error code of the failure', async () => {
    const err = await callNative(() =>
      native().simulate({
        outputDir: tmpDir(), start: 'not a date', groups: 1, subbands: 1, channels: 8, integrations: 1,
        antennas: 4, seed: 1, flagFraction: 0, jitterS: 0, decDeg: 50, gains: true, flipUvw: false,
        legacyIntegrationTime: false, overwrite: false,
      }),
    ).catch((e) => e);
    expect(err.code).toBe('SIM_INVALID_ARGUMENT');
    const err2 = await callNative(() =>
      native().simulate({
        outputDir: tmpDir(), start: '2025-10-02T00:00:00', groups: 1, subbands: 1, channels: 8, integrations: 1,
        antennas: 4, seed: 1, flagFraction: 2, jitterS: 0, decDeg: 50, gains: true, flipUvw: false,
        legacyIntegrationTime: false, overwrite: false,
      }),
    ).catch((e) => e);
    expect(err2.code).toBe('SIM_INVALID_ARGUMENT');
    expect(err2.message).toContain('--flag-fraction');
    expect(asContimgError(new Error('[SOME_CODE] text')).code).toBe('SOME_CODE');
  });

  it('does not block the event loop while a native job runs', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const started = Date.now();
    const progress: number[] = [];
    await native().simulate(
      {
        outputDir: tmpDir(), start: '2025-10-02T00:00:00', groups: 1, subbands: 4, channels: 48, integrations: 8,
        antennas: 40, seed: 1, flagFraction: 0, jitterS: 0, decDeg: 50, gains: true, flipUvw: false,
        legacyIntegrationTime: false, overwrite: false,
      },
      (p) => progress.push(p.bytesWritten),
    );
    clearInterval(timer);
    const elapsed = Date.now() - started;
    // The timer kept firing while Rust worked: at least a third of the ticks a free loop gets.
    expect(elapsed).toBeGreaterThan(50);
    expect(ticks).toBeGreaterThan(elapsed / 5 / 3);
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)).toBeGreaterThan(0);
  });

  it('cancels a running job at the next safe point', async () => {
    const token = new (native().CancelToken)();
    const dir = tmpDir();
    const job = native().simulate(
      {
        outputDir: dir, start: '2025-10-02T00:00:00', groups: 4, subbands: 16, channels: 48, integrations: 24,
        antennas: 96, seed: 1, flagFraction: 0, jitterS: 0, decDeg: 50, gains: true, flipUvw: false,
        legacyIntegrationTime: false, overwrite: false, threads: 1,
      },
      null,
      token,
    );
    setTimeout(() => token.cancel(), 200);
    const err = await job.then(() => undefined, (e) => asContimgError(e));
    expect(err?.code).toBe('CANCELLED');
    const { readdirSync } = await import('node:fs');
    expect(readdirSync(dir).some((n) => n.includes('incomplete'))).toBe(false);
  });
});
