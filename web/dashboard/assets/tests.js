// dynobox dashboard, Tests panel: the last test runs "dynobox ci" recorded
// for this app (GET /api/dash/tests), as "dynobox ci:list" lists them. A
// separate script so that the panel stays out of app.js: it adds its own
// card to the overview and polls on its own.
'use strict';
(() => {
  const TOKEN = document.querySelector('meta[name="dynobox-token"]').content;
  const overview = document.getElementById('view-overview');
  if (!overview) return;

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }

  const card = el('div', 'card flush tests');
  card.id = 'ov-tests';
  const head = el('h2', null, 'Tests');
  head.style.padding = '16px 16px 0';
  head.appendChild(el('span', 'sub', 'dynobox ci · last runs'));
  const table = el('table', 'table tests');
  const tr = el('tr');
  for (const th of ['#', 'Status', 'Branch', 'Commit', 'Duration', 'Started']) tr.appendChild(el('th', null, th));
  table.appendChild(el('thead')).appendChild(tr);
  const rows = el('tbody');
  rows.id = 'test-rows';
  table.appendChild(rows);
  const empty = el('p', 'sub', 'No test runs yet: run dynobox ci');
  empty.style.padding = '0 16px 16px';
  card.append(head, table, empty);
  overview.appendChild(card);

  // Go durations are in nanoseconds.
  function fmtDur(ns) {
    const s = ns / 1e9;
    if (s < 60) return s.toFixed(1) + 's';
    return Math.floor(s / 60) + 'm ' + Math.round(s % 60) + 's';
  }
  const stateClass = (st) => 's-' + ({ succeeded: 'up', failed: 'failed', errored: 'crashed' }[st] || 'stopping');

  function render(runs) {
    empty.hidden = runs.length > 0;
    table.hidden = runs.length === 0;
    rows.replaceChildren(...runs.map((r) => {
      const row = el('tr');
      row.dataset.run = r.number;
      const status = el('span', 'state ' + stateClass(r.status), r.status);
      const cells = ['#' + r.number, status, r.branch || '–', (r.commit_version || '–').slice(0, 7),
        fmtDur(r.duration), new Date(r.started_at).toLocaleString()];
      for (const c of cells) {
        const td = el('td');
        if (c instanceof Node) td.appendChild(c); else td.textContent = c;
        row.appendChild(td);
      }
      if (r.error) row.title = r.error;
      return row;
    }));
  }

  async function refresh() {
    try {
      const res = await fetch('/api/dash/tests', { headers: { 'X-Dynobox-Token': TOKEN } });
      if (res.ok) render(await res.json());
    } catch (e) { /* the connection indicator of app.js says why */ }
  }
  refresh();
  setInterval(refresh, 3000);
})();
