/**
 * Opens one of contimg's databases through the compiled code, as the CLI does, then closes it:
 * `node open-db.mjs queue|registries|journal PATH`. The child of test/db/migrations.test.ts.
 */
const [kind, target] = process.argv.slice(2);
const dist = new URL('../../dist/', import.meta.url);
if (kind === 'queue') {
  const { StreamQueue } = await import(new URL('stream/queue.js', dist).href);
  await (await StreamQueue.open(target)).close();
} else if (kind === 'registries') {
  const { openLayout } = await import(new URL('layout/index.js', dist).href);
  const { openRegistries } = await import(new URL('registry/index.js', dist).href);
  const layout = openLayout({ stageBase: `${target}/stage`, dataBase: `${target}/data`, env: {} });
  await (await openRegistries(layout)).close();
} else if (kind === 'journal') {
  const { Journal } = await import(new URL('migrate/journal.js', dist).href);
  await (await Journal.open(target)).close();
} else {
  throw new Error(`unknown database kind ${kind}`);
}
