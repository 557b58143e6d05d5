/**
 * One claiming process of benches/scaleout/claims.mjs: opens the queue (a SQLite file or a
 * postgres:// URL), waits for the common start instant, claims until the queue is empty, and
 * prints JSON {ids, firstMs, lastMs}. No work between claims: this measures the claim itself.
 *   node claimer.mjs QUEUE START_AT_MS NAME
 */
import { StreamQueue } from '../../dist/stream/queue.js';

const [spec, startAt, name] = process.argv.slice(2);
const q = await StreamQueue.open(spec, { maxConnections: 1 });
const owner = { host: `bench-${name}`, pid: process.pid, start: name };
while (Date.now() < Number(startAt)) await new Promise((r) => setTimeout(r, 1));
const ids = [];
const firstMs = Date.now();
for (;;) {
  const c = await q.claimNext(owner, Date.now() / 1000, { leaseS: 600, worker: name });
  if (!c) break;
  ids.push(c.groupId);
}
const lastMs = Date.now();
await q.close();
process.stdout.write(JSON.stringify({ ids, firstMs, lastMs }));
