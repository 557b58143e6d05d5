/**
 * Preloaded (`node --import`) into a child process by test/db/migrations.test.ts: counts every
 * SQL statement that changes something (anything but SELECT and PRAGMA) run through
 * better-sqlite3, and SIGKILLs the process right after statement number CONTIMG_TEST_KILL_AFTER,
 * as a power cut or the OOM killer would.
 */
import { createRequire } from 'node:module';

const killAfter = Number(process.env.CONTIMG_TEST_KILL_AFTER);
const Database = createRequire(import.meta.url)('better-sqlite3');
let count = 0;
const prepare = Database.prototype.prepare;
Database.prototype.prepare = function (source, ...rest) {
  const stmt = prepare.call(this, source, ...rest);
  if (/^\s*(select|pragma)\b/i.test(source)) return stmt;
  for (const method of ['run', 'all', 'get', 'iterate']) {
    const original = stmt[method];
    stmt[method] = function (...args) {
      const result = original.apply(this, args);
      count += 1;
      if (count === killAfter) process.kill(process.pid, 'SIGKILL');
      return result;
    };
  }
  return stmt;
};
