/** Per-stage timings: a missing stage is backfilled so the parts add up to the total. */
import { describe, expect, it } from 'vitest';
import { backfillTimings } from '../../ts/stream/metrics.js';

const sum = (t: { loadS: number; phaseS: number; writeS: number }) => t.loadS + t.phaseS + t.writeS;

describe('backfillTimings', () => {
  it('keeps complete timings as reported, with the larger of the reported and measured totals', () => {
    expect(backfillTimings({ loadS: 10, phaseS: 20, writeS: 30, totalS: 65, detail: {} }, 64)).toEqual({ loadS: 10, phaseS: 20, writeS: 30, totalS: 65, backfilled: [] });
    expect(backfillTimings({ loadS: 10, phaseS: 20, writeS: 30, totalS: 65, detail: {} }, 70).totalS).toBe(70);
  });

  it('shares the unaccounted time among missing stages in the 0.3/0.4/0.3 proportions', () => {
    const t = backfillTimings({ loadS: 30, totalS: 100 }, 0);
    expect(t.backfilled).toEqual(['phase', 'write']);
    expect(t.phaseS).toBeCloseTo(40, 10);
    expect(t.writeS).toBeCloseTo(30, 10);
    expect(sum(t)).toBeCloseTo(100, 10);
  });

  it('treats NaN, negative and non-numeric stages as missing', () => {
    const t = backfillTimings({ loadS: Number.NaN, phaseS: -1, writeS: 'x' as unknown as number, totalS: 10 }, 9);
    expect(t.backfilled).toEqual(['load', 'phase', 'write']);
    expect([t.loadS, t.phaseS, t.writeS].map((x) => +x.toFixed(9))).toEqual([3, 4, 3]);
  });

  it('uses the measured wall time when the converter reported no total', () => {
    const t = backfillTimings({ loadS: 1, phaseS: 2 }, 12);
    expect(t).toMatchObject({ totalS: 12, loadS: 1, phaseS: 2, backfilled: ['write'] });
    expect(t.writeS).toBeCloseTo(9, 10);
  });

  it('scales reported stages down when they exceed the total, and gives missing ones zero', () => {
    const t = backfillTimings({ loadS: 60, phaseS: 60, totalS: 100 }, 0);
    expect(t.writeS).toBe(0);
    expect(sum(t)).toBeCloseTo(100, 10);
    expect(t.loadS).toBeCloseTo(50, 10);
  });

  it('copes with nothing reported at all', () => {
    expect(backfillTimings(undefined, 0)).toEqual({ loadS: 0, phaseS: 0, writeS: 0, totalS: 0, backfilled: ['load', 'phase', 'write'] });
  });
});
