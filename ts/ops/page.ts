/**
 * The read-only dashboard: one self-contained page (inline CSS and JS, no CDN, no framework),
 * rendering the `queueStatus` value it receives from `/api/events` (Server-Sent Events, pushed
 * when the value changes) or, where EventSource is missing or failing, by polling `/api/status`.
 *
 * Everything from the queue is written with textContent, never innerHTML: error messages and
 * group names come from files and processes the page must not trust. Elements carry ids and
 * data attributes (data-state-count, data-group-id, data-quicklook-id) that tests and scripts read.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>contimg — streaming service</title>
<link rel="icon" href="data:,">
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1rem 2rem; color: #1b1f24; background: #fafbfc; }
  h1 { font-size: 1.3rem; margin: 0 0 .3rem; } h2 { font-size: 1.05rem; margin: 1.4rem 0 .4rem; }
  #meta { color: #57606a; font-size: .85rem; }
  .counts { display: flex; gap: .8rem; flex-wrap: wrap; }
  .count { background: #fff; border: 1px solid #d0d7de; border-radius: 6px; padding: .5rem .9rem; min-width: 6.5rem; }
  .count b { display: block; font-size: 1.6rem; font-variant-numeric: tabular-nums; }
  .count.failed b { color: #cf222e; } .count.completed b { color: #1a7f37; }
  table { border-collapse: collapse; background: #fff; font-variant-numeric: tabular-nums; }
  th, td { border: 1px solid #d0d7de; padding: .25rem .55rem; text-align: left; vertical-align: top; }
  th { background: #f3f4f6; } td.num { text-align: right; } td[data-group-id], #workers td { white-space: nowrap; }
  td.err { color: #cf222e; max-width: 40rem; white-space: pre-wrap; word-break: break-word; }
  #warnings li { color: #9a6700; } .none { color: #57606a; font-style: italic; }
  #quicklooks { display: flex; gap: 1rem; flex-wrap: wrap; }
  figure { margin: 0; background: #fff; border: 1px solid #d0d7de; border-radius: 6px; padding: .5rem; }
  figure img { display: block; width: 240px; height: auto; image-rendering: pixelated; background: #000; }
  figcaption { font-size: .8rem; margin-top: .3rem; }
  #conn.down { color: #cf222e; }
</style>
</head>
<body>
<h1>contimg streaming service</h1>
<div id="meta">queue <span id="queue-db">…</span> · schema <span id="schema"></span> ·
  updated <span id="updated">never</span> · <span id="conn">connecting</span></div>

<h2>Queue</h2>
<div class="counts" id="counts">
  <div class="count"><span>total</span><b data-state-count="total">–</b></div>
  <div class="count"><span>collecting</span><b data-state-count="collecting">–</b></div>
  <div class="count"><span>pending</span><b data-state-count="pending">–</b></div>
  <div class="count"><span>in progress</span><b data-state-count="in_progress">–</b></div>
  <div class="count completed"><span>completed</span><b data-state-count="completed">–</b></div>
  <div class="count failed"><span>failed</span><b data-state-count="failed">–</b></div>
</div>

<h2>Warnings</h2>
<ul id="warnings"></ul>

<h2>Workers (in-progress claims)</h2>
<table id="workers"><thead><tr><th>worker</th><th>host</th><th>pid</th><th>group</th><th>claim</th><th>claimed</th><th>last heartbeat</th><th>age (s)</th><th>lease left (s)</th></tr></thead><tbody></tbody></table>

<h2>Recent groups</h2>
<table id="groups"><thead><tr><th>group</th><th>state</th><th>stage</th><th>subbands</th><th>retries</th><th>load s</th><th>phase s</th><th>write s</th><th>total s</th><th>claimed by</th><th>error</th></tr></thead><tbody></tbody></table>

<h2>Staging areas</h2>
<table id="staging"><thead><tr><th>area</th><th>path</th><th>free</th><th>total</th></tr></thead><tbody></tbody></table>

<h2>Latest quicklooks</h2>
<div id="quicklooks"></div>

<script>
"use strict";
const $ = (s) => document.querySelector(s);
function el(tag, text, attrs) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  return e;
}
const sec = (x) => (x === null || x === undefined ? '–' : Number(x).toFixed(1));
const gb = (b) => (b === null || b === undefined ? 'n/a' : (b / 1e9).toFixed(1) + ' GB');
function rows(table, items, cells, empty) {
  const body = $(table + ' tbody');
  body.replaceChildren();
  if (items.length === 0) {
    const tr = el('tr', null, { class: 'none' });
    tr.append(el('td', empty, { colspan: $(table + ' thead tr').children.length }));
    body.append(tr);
  }
  for (const it of items) {
    const tr = el('tr');
    for (const [text, attrs] of cells(it)) tr.append(el('td', text, attrs));
    body.append(tr);
  }
}
let quicklookKey = null;
function render(st) {
  $('#queue-db').textContent = st.queueDb;
  $('#schema').textContent = st.schema;
  for (const node of document.querySelectorAll('[data-state-count]')) {
    const k = node.getAttribute('data-state-count');
    node.textContent = String(k === 'total' ? st.total : st.counts[k]);
  }
  const warn = $('#warnings');
  warn.replaceChildren(...(st.warnings.length ? st.warnings.map((w) => el('li', w)) : [el('li', 'no warnings', { class: 'none' })]));
  rows('#workers', st.workers, (w) => [[w.worker ?? '?'], [w.host ?? '?'], [w.pid ?? '?'], [w.groupId], [w.token, { class: 'num' }], [w.claimedAt], [w.lastUpdate], [sec(w.heartbeatAgeS), { class: 'num' }], [sec(w.leaseRemainingS), { class: 'num' }]], 'no claims');
  const timing = new Map(st.metrics.map((m) => [m.groupId, m]));
  rows('#groups', st.groups, (g) => {
    const m = timing.get(g.groupId) || {};
    return [[g.groupId, { 'data-group-id': g.groupId }], [g.state, { 'data-group-state': g.state }], [g.processingStage], [g.subbands + '/' + g.expectedSubbands, { class: 'num' }],
      [g.retryCount, { class: 'num' }], [sec(m.loadS), { class: 'num' }], [sec(m.phaseS), { class: 'num' }], [sec(m.writeS), { class: 'num' }], [sec(m.totalS), { class: 'num' }],
      [g.claimedBy], [g.error, { class: 'err' }]];
  }, 'no groups');
  rows('#staging', st.staging, (a) => [[a.area], [a.path], [gb(a.freeBytes), { class: 'num', 'data-free-bytes': a.freeBytes ?? '' }], [gb(a.totalBytes), { class: 'num' }]], 'no staging areas given');
  const qls = st.quicklooks || [];
  // Rebuilt only when the list changes, so images are not refetched every second.
  const key = JSON.stringify(qls.map((q) => [q.id, q.modified]));
  if (key !== quicklookKey) {
    quicklookKey = key;
    const box = $('#quicklooks');
    box.replaceChildren();
    if (qls.length === 0) box.append(el('p', st.quicklooks ? 'no quicklooks yet' : 'no output directory given', { class: 'none' }));
    for (const q of qls) {
      const fig = el('figure', null, { 'data-quicklook-id': q.id, 'data-kind': q.kind });
      fig.append(el('img', null, { src: '/quicklook/' + q.id + '.png?v=' + encodeURIComponent(q.modified || ''), alt: q.name }));
      const cap = el('figcaption', q.kind + ' ');
      cap.append(el('a', q.name, { href: '/fits/' + q.id, 'data-fits-link': q.id }), el('br'), el('span', q.modified));
      fig.append(cap);
      box.append(fig);
    }
  }
  $('#updated').textContent = new Date().toISOString().replace(/\\.\\d+Z$/, 'Z');
}
function connected(ok, how) {
  const c = $('#conn');
  c.textContent = ok ? 'live (' + how + ')' : 'disconnected, retrying';
  c.className = ok ? '' : 'down';
}
async function poll() {
  try {
    const r = await fetch('/api/status', { cache: 'no-store' });
    if (!r.ok) throw new Error('HTTP ' + r.status);
    render(await r.json());
    connected(true, 'polling');
  } catch (e) {
    connected(false);
  }
  setTimeout(poll, 1000);
}
if (typeof EventSource === 'function') {
  const es = new EventSource('/api/events');
  es.onmessage = (ev) => { render(JSON.parse(ev.data)); connected(true, 'events'); };
  // EventSource reconnects by itself; the page only says so.
  es.onerror = () => connected(false);
} else {
  poll();
}
</script>
</body>
</html>
`;
