/**
 * Log lines carry level labels, in the Python service's words, so the seed's `grep ERROR` works.
 */
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../ts/log.js';

describe('JSON log lines', () => {
  it('name their level with the label operators grep for', () => {
    const out: string[] = [];
    const log = createLogger({ level: 'DEBUG', json: true, destination: { write: (s: string) => out.push(s) } });
    log.debug('d');
    log.info('i');
    log.warn('w');
    log.error('e');
    log.fatal('f');
    const lines = out.join('').trim().split('\n');
    expect(lines.map((l) => [JSON.parse(l).level, JSON.parse(l).msg])).toEqual([
      ['DEBUG', 'd'],
      ['INFO', 'i'],
      ['WARNING', 'w'],
      ['ERROR', 'e'],
      ['CRITICAL', 'f'],
    ]);
    // `grep ERROR` finds exactly the error line.
    expect(lines.filter((l) => l.includes('"level":"ERROR"'))).toEqual([lines[3]]);
  });
});
