// dynobox dashboard: plain JavaScript, no build step, no network beyond
// this dashboard's own origin. It polls the JSON API (the same handlers as
// the CLI verbs), streams logs over Server-Sent Events and draws its charts
// as hand-written SVG.
'use strict';
(() => {
  const TOKEN = document.querySelector('meta[name="dynobox-token"]').content;
  const $ = (id) => document.getElementById(id);

  // ---------------------------------------------------------------- DOM
  function h(tag, props, ...kids) {
    const el = document.createElement(tag);
    if (props) {
      for (const [k, v] of Object.entries(props)) {
        if (v == null || v === false) continue;
        if (k === 'class') el.className = v;
        else if (k === 'text') el.textContent = v;
        else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
        else if (k === 'data') Object.assign(el.dataset, v);
        else el.setAttribute(k, v === true ? '' : v);
      }
    }
    for (const kid of kids.flat(Infinity)) {
      if (kid == null || kid === false) continue;
      el.append(kid instanceof Node ? kid : String(kid));
    }
    return el;
  }

  const SVGNS = 'http://www.w3.org/2000/svg';
  function s(tag, attrs) {
    const el = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
    return el;
  }

  function setText(el, text) {
    text = String(text);
    if (el.textContent !== text) el.textContent = text;
  }

  // keyed reuses container's children by key, so rows keep their buttons
  // (and a click in progress) across the once-a-second refresh.
  function keyed(container, items, keyOf, create, update) {
    const old = new Map();
    for (const el of Array.from(container.children)) old.set(el.dataset.key, el);
    let prev = null;
    for (const it of items) {
      const k = keyOf(it);
      let el = old.get(k);
      if (el) old.delete(k);
      else {
        el = create(it);
        el.dataset.key = k;
      }
      update(el, it);
      const want = prev ? prev.nextSibling : container.firstChild;
      if (el !== want) container.insertBefore(el, want);
      prev = el;
    }
    for (const el of old.values()) el.remove();
  }

  // ---------------------------------------------------------------- API
  async function api(method, path, body) {
    const opts = { method, headers: { 'X-Dynobox-Token': TOKEN } };
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    const res = await fetch(path, opts);
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { /* not JSON */ }
    if (!res.ok) throw new Error((data && data.error) || text.trim() || res.statusText);
    return data;
  }

  // ---------------------------------------------------------------- formats
  function fmtDuration(ms) {
    let sec = Math.max(0, Math.floor(ms / 1000));
    if (sec < 60) return sec + 's';
    let min = Math.floor(sec / 60); sec %= 60;
    if (min < 60) return min + 'm ' + sec + 's';
    let hr = Math.floor(min / 60); min %= 60;
    if (hr < 24) return hr + 'h ' + min + 'm';
    return Math.floor(hr / 24) + 'd ' + (hr % 24) + 'h';
  }
  const since = (iso) => fmtDuration(Date.now() - Date.parse(iso));
  function fmtBytes(b) {
    if (b == null || b < 0) return '–';
    const units = ['B', 'KB', 'MB', 'GB'];
    let i = 0;
    while (b >= 1024 && i < units.length - 1) { b /= 1024; i++; }
    return (b >= 100 || i === 0 ? Math.round(b) : b.toFixed(1)) + ' ' + units[i];
  }
  function fmtCPU(c) {
    if (c == null || c < 0) return '–';
    return (c < 10 ? c.toFixed(1) : Math.round(c)) + ' %';
  }
  const pad = (n, w = 2) => String(n).padStart(w, '0');
  function clock(ms) {
    const d = new Date(ms);
    return pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
  }
  const fullTime = (iso) => new Date(iso).toLocaleString();

  // Process colours: one per process type, stable across reloads.
  const procClasses = new Map();
  function procClass(proc) {
    let c = procClasses.get(proc);
    if (c) return c;
    const type = proc.split('.')[0];
    let hash = 0;
    for (let i = 0; i < type.length; i++) hash = (hash * 31 + type.charCodeAt(i)) >>> 0;
    c = type === 'web' ? 'pc0' : 'pc' + (1 + (hash % 7));
    procClasses.set(proc, c);
    return c;
  }

  function stateBadge(state) {
    return h('span', { class: 'state s-' + state }, state);
  }

  // ---------------------------------------------------------------- feedback
  function toast(msg, kind) {
    const t = h('div', { class: 'toast ' + (kind || 'ok') }, msg);
    $('toasts').append(t);
    setTimeout(() => t.classList.add('out'), kind === 'error' ? 6000 : 3500);
    setTimeout(() => t.remove(), kind === 'error' ? 6500 : 4000);
  }

  // run disables btn while fn runs and reports a failure as a toast.
  async function run(btn, fn) {
    if (btn) { btn.disabled = true; btn.classList.add('busy'); }
    try {
      return await fn();
    } catch (e) {
      toast(e.message, 'error');
    } finally {
      if (btn) { btn.disabled = false; btn.classList.remove('busy'); }
    }
  }

  function button(label, cls, onclick, data) {
    return h('button', { class: 'btn ' + (cls || ''), type: 'button', data, onclick: (e) => run(e.currentTarget, onclick) }, label);
  }

  // confirmButton asks for a second click before doing something drastic.
  function confirmButton(label, ask, cls, action, data) {
    const b = h('button', { class: 'btn ' + (cls || ''), type: 'button', data }, label);
    let armed = 0;
    const disarm = () => { clearTimeout(armed); armed = 0; b.textContent = label; b.classList.remove('armed'); };
    b.addEventListener('click', () => {
      if (!armed) {
        b.textContent = ask;
        b.classList.add('armed');
        armed = setTimeout(disarm, 4000);
        return;
      }
      disarm();
      run(b, action);
    });
    return b;
  }

  async function copyText(text, what) {
    try {
      await navigator.clipboard.writeText(text);
    } catch (e) {
      const ta = h('textarea', { class: 'offscreen' }, text);
      document.body.append(ta);
      ta.select();
      document.execCommand('copy');
      ta.remove();
    }
    toast('Copied ' + what);
  }

  // ---------------------------------------------------------------- state
  const S = {
    view: '',
    info: null,
    infoSig: '',
    stats: null,
    config: null,
    releases: null,
    builds: null,
    revealed: {}, // config var → real value, after the user clicked reveal
    editing: null, // the config var being edited
    online: null,
  };

  function setOnline(ok) {
    if (S.online === ok) return;
    S.online = ok;
    const c = $('conn');
    c.dataset.state = ok ? 'live' : 'down';
    setText($('conn-text'), ok ? 'live' : 'disconnected — is dynobox running?');
    document.body.classList.toggle('offline', !ok);
  }

  async function refreshInfo() {
    try {
      S.info = await api('GET', '/api/v1/info');
      setOnline(true);
    } catch (e) {
      setOnline(false);
      return;
    }
    renderHeader();
    if (S.view === 'overview') renderOverview();
    if (S.view === 'dynos') renderDynos();
    if (S.view === 'addons') renderAddons();
    if (S.view === 'logs') updateLogFilters();
  }

  async function refreshStats() {
    try { S.stats = await api('GET', '/api/dash/stats'); } catch (e) { return; }
    if (S.view === 'overview') renderCharts();
    if (S.view === 'dynos') renderDynos();
  }

  async function refreshConfig() {
    try { S.config = await api('GET', '/api/v1/config'); } catch (e) { return; }
    if (S.view === 'config') renderConfig();
  }

  async function refreshReleases() {
    try {
      [S.releases, S.builds] = await Promise.all([api('GET', '/api/v1/releases'), api('GET', '/api/v1/builds')]);
    } catch (e) { return; }
    if (S.view === 'releases') renderReleases();
    if (S.view === 'overview') renderOverview(true);
  }

  function every(ms, fn) {
    let busy = false;
    const tick = async () => {
      if (busy) return;
      busy = true;
      try { await fn(); } finally { busy = false; }
    };
    tick();
    setInterval(tick, ms);
  }

  // A change: refresh what it touches at once rather than at the next tick.
  function changed() {
    refreshInfo();
    refreshConfig();
    refreshReleases();
  }

  // ---------------------------------------------------------------- header
  function renderHeader() {
    const i = S.info;
    document.title = i.name + ' · dynobox';
    setText($('app-name'), i.name);
    setText($('release'), 'v' + i.release);
    const r = $('router-url');
    if (i.router_url) {
      setText(r, i.router_url.replace(/^https?:\/\//, '').replace(/\/$/, ''));
      r.href = i.router_url;
    }
    const dynos = i.dynos || [];
    setText($('tab-dynos'), dynos.length);
    setText($('tab-addons'), (i.addons || []).length || '');
  }

  // Relative times tick every second without re-rendering anything else.
  setInterval(() => {
    for (const el of document.querySelectorAll('[data-since]')) setText(el, since(el.dataset.since));
  }, 1000);

  function sinceSpan(iso, cls) {
    return h('span', { class: cls || 'since', data: { since: iso }, title: fullTime(iso) }, since(iso));
  }

  // ---------------------------------------------------------------- types
  // procTypes lists the formation's types, web first, then the others in order.
  function procTypes() {
    const f = S.info.formation || {};
    return Object.keys(f).sort((a, b) => (a === 'web' ? -1 : b === 'web' ? 1 : a.localeCompare(b)));
  }
  function dynosOf(type) {
    return (S.info.dynos || []).filter((d) => d.type === type);
  }
  function scaleButtons(type) {
    const scale = (op) => async () => {
      await api('POST', '/api/v1/ps/scale', { changes: [{ type, op, n: 1 }] });
      refreshInfo();
    };
    const count = h('span', { class: 'scale-count', data: { count: type } });
    const el = h('span', { class: 'scaler' },
      button('−', 'icon', scale('-'), { scale: type, op: '-' }),
      count,
      button('+', 'icon', scale('+'), { scale: type, op: '+' }));
    el.update = () => setText(count, S.info.formation[type] || 0);
    el.update();
    return el;
  }

  // ---------------------------------------------------------------- overview
  function renderOverview(force) {
    if (!S.info) return;
    const i = S.info;
    const dynos = i.dynos || [];
    const addons = i.addons || [];
    const up = dynos.filter((d) => d.state === 'up').length;
    const addonsUp = addons.filter((a) => a.state === 'up').length;
    const rel = (S.releases || [])[0];
    const b = i.build && i.build.status !== 'succeeded' ? i.build : null;
    const sig = JSON.stringify([i.release, i.formation, dynos.map((d) => [d.name, d.state]), addons.map((a) => [a.name, a.state, a.address]), rel && rel.description, b && [b.id, b.status]]);
    if (sig === S.infoSig && !force) {
      for (const el of document.querySelectorAll('#ov-types .scaler')) el.update();
      return;
    }
    S.infoSig = sig;

    const tile = (label, value, sub, cls) => h('div', { class: 'tile ' + (cls || '') },
      h('div', { class: 'tile-label' }, label), h('div', { class: 'tile-value' }, value), h('div', { class: 'tile-sub' }, sub));
    renderBuildBanner(b, i.release);
    $('ov-tiles').replaceChildren(
      b && b.status === 'failed'
        ? tile('Release', 'v' + i.release, 'build ' + b.id + ' failed', 'bad')
        : tile('Release', 'v' + i.release, rel ? rel.description : ''),
      tile('Dynos up', up + ' / ' + dynos.length, procTypes().map((t) => t + ' ' + (i.formation[t] || 0)).join(' · '), up === dynos.length && dynos.length ? 'good' : 'warn'),
      tile('Add-ons up', addons.length ? addonsUp + ' / ' + addons.length : 'none', addons.map((a) => a.name).join(' · ') || 'attach one under Add-ons', addonsUp === addons.length ? 'good' : 'warn'),
      tile('Running for', sinceSpan(i.started_at, 'since'), 'pid ' + i.pid),
      tile('Router', h('a', { href: i.router_url, target: '_blank', rel: 'noopener noreferrer' }, i.router_url.replace(/^https?:\/\//, '').replace(/\/$/, '')), i.dir, 'router'),
    );

    $('ov-types').replaceChildren(...procTypes().map((t) => {
      const ds = dynosOf(t);
      const n = ds.filter((d) => d.state === 'up').length;
      return h('div', { class: 'type-row' },
        h('div', { class: 'type-name ' + procClass(t) }, t),
        h('code', { class: 'type-cmd', title: i.commands[t] }, i.commands[t]),
        h('div', { class: 'type-dots' }, ds.map((d) => h('span', { class: 'dot s-' + d.state, title: d.name + ': ' + d.state }))),
        h('span', { class: 'type-up' }, n + ' up'),
        scaleButtons(t));
    }));
    if (!procTypes().length) $('ov-types').replaceChildren(h('p', { class: 'empty' }, 'No process types.'));

    $('ov-addons').replaceChildren(...addons.map((a) => h('div', { class: 'addon-row' },
      h('span', { class: 'dot s-' + a.state }),
      h('span', { class: 'addon-name' }, a.name),
      h('span', { class: 'muted' }, a.plan),
      h('code', { class: 'addon-addr' }, a.address || ''),
      stateBadge(a.state))));
    if (!addons.length) $('ov-addons').replaceChildren(h('p', { class: 'empty' }, 'No add-ons. Declare them in app.json, or attach one under Add-ons.'));
    renderCharts();
  }

  // renderBuildBanner puts a failed or running build where people look: a
  // failed one means the dynos run an older release than the code as saved.
  function renderBuildBanner(b, release) {
    const el = $('ov-build');
    el.hidden = !b;
    if (!b) return;
    if (b.status === 'failed') {
      el.className = 'banner bad';
      el.replaceChildren(h('strong', {}, 'Build ' + b.id + ' failed'), ' ', sinceSpan(b.started_at), ' ago: the dynos keep running v' + release + '. ',
        h('a', { href: '#releases', data: { build: b.id }, onclick: () => setTimeout(() => showBuild(b.id), 0) }, 'Show its output'),
        ' · fix the code and save to deploy again.');
    } else {
      el.className = 'banner busy';
      el.replaceChildren(h('strong', {}, 'Building…'), ' for ', sinceSpan(b.started_at), ' · its output is under Logs as app[build].');
    }
  }

  // ---------------------------------------------------------------- charts
  // chart draws values (a gap where < 0) as a line over an area, scaled to
  // max, in a viewBox stretched to its box (strokes keep their width).
  function chart(values, max, cls, w = 300, hgt = 60) {
    const svg = s('svg', { viewBox: `0 0 ${w} ${hgt}`, preserveAspectRatio: 'none', class: 'chart ' + cls });
    for (const f of [0.5]) svg.append(s('line', { x1: 0, x2: w, y1: hgt * f, y2: hgt * f, class: 'grid' }));
    const n = values.length;
    if (n < 2) return svg;
    const x = (k) => (k / (n - 1)) * w;
    const y = (v) => hgt - 2 - (Math.min(v, max) / max) * (hgt - 4);
    let seg = [];
    const flush = () => {
      if (seg.length > 1) {
        const line = seg.map(([k, v], j) => (j ? 'L' : 'M') + x(k).toFixed(1) + ' ' + y(v).toFixed(1)).join('');
        svg.append(s('path', { d: line + `L${x(seg[seg.length - 1][0]).toFixed(1)} ${hgt}L${x(seg[0][0]).toFixed(1)} ${hgt}Z`, class: 'area' }));
        svg.append(s('path', { d: line, class: 'line' }));
      } else if (seg.length === 1) {
        svg.append(s('circle', { cx: x(seg[0][0]), cy: y(seg[0][1]), r: 1.5, class: 'pt' }));
      }
      seg = [];
    };
    values.forEach((v, k) => (v < 0 ? flush() : seg.push([k, v])));
    flush();
    return svg;
  }
  const peak = (vals) => vals.reduce((m, v) => (v > m ? v : m), 0);
  const lastVal = (vals) => (vals && vals.length ? vals[vals.length - 1] : -1);
  const cpuMax = (vals) => Math.max(10, Math.ceil(peak(vals) / 10) * 10);
  const memMax = (vals) => Math.max(16 << 20, peak(vals) * 1.25);

  function renderCharts() {
    if (!S.info) return;
    const box = $('ov-charts');
    const dynos = S.info.dynos || [];
    const series = (S.stats && S.stats.dynos) || {};
    const seen = new Set();
    const order = procTypes();
    const list = dynos.filter((d) => !seen.has(d.name) && seen.add(d.name)).sort((a, b) =>
      order.indexOf(a.type) - order.indexOf(b.type) || Number(a.name.split('.')[1]) - Number(b.name.split('.')[1]));
    if (!list.length) {
      box.replaceChildren(h('p', { class: 'empty' }, 'No dynos running.'));
      return;
    }
    if (box.firstElementChild && box.firstElementChild.classList.contains('empty')) box.replaceChildren();
    keyed(box, list, (d) => d.name, (d) => h('div', { class: 'chart-card' },
      h('div', { class: 'chart-head' }, h('span', { class: 'dot' }), h('strong', { class: procClass(d.name) }, d.name), h('span', { class: 'spacer' }), h('span', { class: 'muted pid' })),
      h('div', { class: 'chart-label' }, h('span', {}, 'CPU'), h('span', { class: 'v cpu-v' }), h('span', { class: 'peak cpu-p' })),
      h('div', { class: 'chart-box cpu-c' }),
      h('div', { class: 'chart-label' }, h('span', {}, 'Memory'), h('span', { class: 'v mem-v' }), h('span', { class: 'peak mem-p' })),
      h('div', { class: 'chart-box mem-c' })),
    (el, d) => {
      el.querySelector('.dot').className = 'dot s-' + d.state;
      setText(el.querySelector('.pid'), d.pid ? 'pid ' + d.pid : d.state);
      const sr = series[d.name] || { cpu: [], memory: [] };
      setText(el.querySelector('.cpu-v'), fmtCPU(lastVal(sr.cpu)));
      setText(el.querySelector('.mem-v'), fmtBytes(lastVal(sr.memory)));
      setText(el.querySelector('.cpu-p'), 'peak ' + fmtCPU(peak(sr.cpu)));
      setText(el.querySelector('.mem-p'), 'peak ' + fmtBytes(peak(sr.memory)));
      el.querySelector('.cpu-c').replaceChildren(chart(sr.cpu, cpuMax(sr.cpu), 'cpu'));
      el.querySelector('.mem-c').replaceChildren(chart(sr.memory, memMax(sr.memory), 'mem'));
    });
  }

  // ---------------------------------------------------------------- dynos
  function renderDynos() {
    if (!S.info) return;
    const series = (S.stats && S.stats.dynos) || {};
    const types = procTypes();
    keyed($('dyno-types'), types, (t) => t, (t) => {
      const card = h('div', { class: 'card flush type-card', data: { type: t } },
        h('div', { class: 'type-head' },
          h('h2', { class: procClass(t) }, t),
          h('code', { class: 'type-cmd' }),
          h('span', { class: 'spacer' }),
          h('span', { class: 'type-up muted' }),
          scaleButtons(t),
          button('Restart all', '', async () => {
            await api('POST', '/api/v1/ps/restart', { type: t });
            toast('Restarting every ' + t + ' dyno');
            refreshInfo();
          }, { restartType: t })),
        h('table', { class: 'table dynos' },
          h('thead', {}, h('tr', {}, ['Dyno', 'State', 'For', 'Port', 'PID', 'Restarts', 'CPU', 'Memory', ''].map((c) => h('th', {}, c)))),
          h('tbody')));
      return card;
    }, (card, t) => {
      const ds = dynosOf(t);
      setText(card.querySelector('.type-cmd'), S.info.commands[t] || '');
      card.querySelector('.type-cmd').title = S.info.commands[t] || '';
      setText(card.querySelector('.type-up'), ds.filter((d) => d.state === 'up').length + ' of ' + (S.info.formation[t] || 0) + ' up');
      card.querySelector('.scaler').update();
      const tbody = card.querySelector('tbody');
      if (!ds.length) {
        tbody.replaceChildren(h('tr', {}, h('td', { colspan: 9, class: 'empty' }, 'Scaled to zero. Press + to start a dyno.')));
        return;
      }
      if (tbody.querySelector('td.empty')) tbody.replaceChildren();
      keyed(tbody, ds, (d) => d.name + '@' + d.port, dynoRow, (row, d) => updateDynoRow(row, d, series[d.name]));
    });
  }

  function dynoRow(d) {
    const sel = { dyno: d.name };
    return h('tr', { class: 'dyno-row', data: { dyno: d.name } },
      h('td', {}, h('strong', { class: 'dyno-name' }, d.name)),
      h('td', { class: 'c-state' }),
      h('td', { class: 'c-since' }),
      h('td', { class: 'c-port num' }),
      h('td', { class: 'c-pid num' }),
      h('td', { class: 'c-restarts num' }),
      h('td', { class: 'c-cpu metric' }, h('span', { class: 'mv' }), h('span', { class: 'spark' })),
      h('td', { class: 'c-mem metric' }, h('span', { class: 'mv' }), h('span', { class: 'spark' })),
      h('td', { class: 'actions' },
        button('Restart', 'small', async () => {
          await api('POST', '/api/v1/ps/restart', sel);
          toast('Restarting ' + d.name);
          refreshInfo();
        }, { action: 'restart' }),
        button('Stop', 'small ghost', async () => {
          await api('POST', '/api/v1/ps/stop', sel);
          toast('Stopping ' + d.name + ' until it is restarted');
          refreshInfo();
        }, { action: 'stop' })));
  }

  function updateDynoRow(row, d, sr) {
    row.dataset.state = d.state;
    row.dataset.pid = d.pid || '';
    const st = row.querySelector('.c-state');
    if (st.dataset.v !== d.state + (d.exit_status ?? '')) {
      st.dataset.v = d.state + (d.exit_status ?? '');
      st.replaceChildren(stateBadge(d.state), d.exit_status != null && d.state === 'crashed' ? h('span', { class: 'muted exit' }, ' exit ' + d.exit_status) : '');
    }
    const sc = row.querySelector('.c-since');
    if (sc.dataset.v !== d.since) {
      sc.dataset.v = d.since;
      sc.replaceChildren(sinceSpan(d.since));
    }
    setText(row.querySelector('.c-port'), d.port || '–');
    setText(row.querySelector('.c-pid'), d.pid || '–');
    setText(row.querySelector('.c-restarts'), d.restarts);
    sr = sr || { cpu: [], memory: [] };
    const cpu = row.querySelector('.c-cpu'), mem = row.querySelector('.c-mem');
    setText(cpu.querySelector('.mv'), d.pid ? fmtCPU(lastVal(sr.cpu)) : '–');
    setText(mem.querySelector('.mv'), d.pid ? fmtBytes(lastVal(sr.memory)) : '–');
    const recent = (v) => v.slice(-60); // the last two minutes
    if (cpu.dataset.n !== String(sr.cpu.length) + lastVal(sr.cpu)) {
      cpu.dataset.n = String(sr.cpu.length) + lastVal(sr.cpu);
      cpu.querySelector('.spark').replaceChildren(chart(recent(sr.cpu), cpuMax(recent(sr.cpu)), 'cpu', 100, 24));
      mem.querySelector('.spark').replaceChildren(chart(recent(sr.memory), memMax(recent(sr.memory)), 'mem', 100, 24));
    }
    const stop = row.querySelector('[data-action="stop"]');
    stop.hidden = d.state === 'down';
    setText(row.querySelector('[data-action="restart"]'), d.state === 'down' ? 'Start' : 'Restart');
  }

  $('restart-all').addEventListener('click', (e) => run(e.currentTarget, async () => {
    await api('POST', '/api/v1/ps/restart', {});
    toast('Restarting every dyno');
    refreshInfo();
  }));

  // ---------------------------------------------------------------- logs
  // The log view keeps the newest BUF_MAX lines in memory and about
  // DOM_MAX in the page; lines are drawn once per animation frame, at most
  // FRAME_MAX of them (pausing shows every buffered line). Type, dyno and source filter on the server
  // (so a quiet dyno's history is not pushed out by a loud one); text
  // filters here.
  const BUF_MAX = 5000;
  const DOM_MAX = 1500;
  const LOG = {
    es: null, key: '', buf: [], pending: [], reset: false, raf: 0,
    paused: false, unseen: 0, follow: true, text: '', rateCount: 0, rate: 0, skipped: 0, connected: false, statTimer: 0, shown: 0, autoTop: -1,
  };
  const logBox = $('log-lines');

  function logParams() {
    const p = new URLSearchParams({ n: '1000' });
    for (const [k, id] of [['type', 'f-type'], ['dyno', 'f-dyno'], ['source', 'f-source']]) {
      if ($(id).value) p.set(k, $(id).value);
    }
    return p.toString();
  }

  function logConnect() {
    const key = logParams();
    if (LOG.es && LOG.key === key) return;
    logDisconnect();
    LOG.key = key;
    const es = new EventSource('/api/dash/logs?' + key);
    es.addEventListener('lines', (e) => onLines(JSON.parse(e.data)));
    es.addEventListener('open', () => { LOG.connected = true; logStat(); });
    es.addEventListener('error', () => { LOG.connected = false; logStat(); });
    LOG.es = es;
  }

  function logDisconnect() {
    if (LOG.es) LOG.es.close();
    LOG.es = null;
    LOG.key = '';
    LOG.connected = false;
  }

  function plain(l) {
    if (l.plain === undefined) {
      const x = l.x.indexOf('\x1b') < 0 ? l.x : l.x.replace(ANSI_RE, '');
      l.plain = (l.s + '[' + l.p + '] ' + x).toLowerCase();
    }
    return l.plain;
  }
  const matches = (l) => !LOG.text || plain(l).includes(LOG.text);

  function onLines(ev) {
    if (ev.history) { // a new stream: its history replaces what we had
      LOG.buf = [];
      LOG.pending = [];
      LOG.reset = true;
      LOG.unseen = 0;
    } else {
      LOG.rateCount += ev.lines.length;
    }
    const lines = ev.lines;
    if (ev.missed) {
      LOG.skipped += ev.missed;
      lines.unshift({ t: Date.now(), s: 'heroku', p: 'dashboard', x: ev.missed + ' lines skipped: they came faster than this page can show', gap: true });
    }
    for (const l of lines) LOG.buf.push(l);
    if (LOG.buf.length > BUF_MAX * 1.25) LOG.buf = LOG.buf.slice(-BUF_MAX);
    if (LOG.paused) {
      LOG.unseen += lines.length;
      pauseLabel();
      return;
    }
    if (!LOG.reset) {
      for (const l of lines) LOG.pending.push(l);
      if (LOG.pending.length > DOM_MAX) { LOG.pending = []; LOG.reset = true; }
    }
    scheduleLogs();
  }

  function scheduleLogs() {
    if (!LOG.raf) LOG.raf = requestAnimationFrame(drawLogs);
  }

  // Lines live in chunks of CHUNK rows: the browser skips laying out and
  // painting chunks that are off screen (content-visibility), and the
  // oldest lines go a whole chunk at a time.
  const CHUNK = 100;
  // FRAME_MAX bounds the lines drawn in one frame, so that the page stays
  // responsive whatever the rate: at 60 frames a second it still draws
  // 15,000 lines a second; on a starved machine it skips, and says so.
  const FRAME_MAX = 250;
  function drawLogs() {
    LOG.raf = 0;
    let lines;
    if (LOG.reset) {
      LOG.reset = false;
      LOG.pending = [];
      lines = LOG.buf.filter(matches).slice(-DOM_MAX);
      logBox.textContent = '';
      LOG.shown = 0;
    } else {
      lines = LOG.pending.filter(matches);
      LOG.pending = [];
      if (lines.length > FRAME_MAX) { // a flood: draw the newest, say what went by
        const n = lines.length - FRAME_MAX;
        lines = lines.slice(-FRAME_MAX);
        lines.unshift({ t: lines[0].t, s: 'heroku', p: 'dashboard', x: `⋯ ${n.toLocaleString()} lines went by too fast to draw: pause to see every line`, gap: true });
      }
    }
    if (lines.length) {
      let chunk = logBox.lastElementChild;
      if (chunk && !chunk.classList.contains('chunk')) {
        chunk.remove(); // the "no lines" note
        chunk = null;
      }
      let i = 0;
      if (chunk) { // top up the last chunk, in place
        const room = CHUNK - chunk.childElementCount;
        const frag = document.createDocumentFragment();
        for (; i < lines.length && i < room; i++) frag.append(lineEl(lines[i]));
        chunk.append(frag);
      }
      const frag = document.createDocumentFragment();
      while (i < lines.length) {
        chunk = h('div', { class: 'chunk' });
        for (const end = Math.min(lines.length, i + CHUNK); i < end; i++) chunk.append(lineEl(lines[i]));
        frag.append(chunk);
      }
      logBox.append(frag);
      LOG.shown += lines.length;
      while (LOG.shown - logBox.firstElementChild.childElementCount >= DOM_MAX) {
        LOG.shown -= logBox.firstElementChild.childElementCount;
        logBox.firstElementChild.remove();
      }
    }
    if (!logBox.firstChild) logBox.append(h('div', { class: 'log-empty' }, LOG.text ? 'No line matches the filter.' : 'No log lines yet.'));
    if (LOG.follow) {
      toBottom();
      // Chunks drawn for the first time may change size once laid out.
      requestAnimationFrame(() => { if (LOG.follow) toBottom(); });
    }
    if (!LOG.statTimer) LOG.statTimer = setTimeout(() => { LOG.statTimer = 0; logStat(); }, 250);
  }

  function lineEl(l) {
    const d = document.createElement('div');
    d.className = l.gap ? 'll gap' : l.s === 'heroku' ? 'll src-h' : 'll';
    d.dataset.p = l.p;
    const t = document.createElement('span');
    t.className = 'lt';
    t.textContent = clock(l.t);
    const p = document.createElement('span');
    p.className = 'lp ' + procClass(l.p);
    p.textContent = l.s + '[' + l.p + ']';
    const x = document.createElement('span');
    x.className = 'lx';
    ansi(l.x, x);
    d.append(t, p, x);
    return d;
  }

  function pauseLabel() {
    setText($('log-pause'), LOG.paused ? (LOG.unseen ? `Resume (${LOG.unseen.toLocaleString()} new)` : 'Resume') : 'Pause');
    $('log-pause').classList.toggle('primary', LOG.paused);
  }

  function logStat() {
    const parts = [];
    if (!LOG.connected && LOG.es) parts.push('reconnecting…');
    else if (LOG.paused) parts.push('paused');
    else parts.push(LOG.rate.toLocaleString() + (LOG.rate === 1 ? ' line/s' : ' lines/s'));
    parts.push(LOG.shown.toLocaleString() + ' shown');
    if (LOG.skipped) parts.push(LOG.skipped.toLocaleString() + ' skipped');
    setText($('log-stat'), parts.join(' · '));
  }
  setInterval(() => {
    LOG.rate = LOG.rateCount;
    LOG.rateCount = 0;
    if (S.view === 'logs') logStat();
  }, 1000);

  $('log-pause').addEventListener('click', () => {
    LOG.paused = !LOG.paused;
    if (!LOG.paused) {
      LOG.unseen = 0;
      LOG.reset = true;
      LOG.follow = true;
      scheduleLogs();
    }
    pauseLabel();
    logStat();
  });
  $('log-clear').addEventListener('click', () => {
    LOG.buf = [];
    LOG.pending = [];
    LOG.reset = true;
    LOG.unseen = 0;
    LOG.skipped = 0;
    pauseLabel();
    scheduleLogs();
  });
  let textTimer = 0;
  $('f-text').addEventListener('input', () => {
    clearTimeout(textTimer);
    textTimer = setTimeout(() => {
      LOG.text = $('f-text').value.trim().toLowerCase();
      LOG.reset = true;
      scheduleLogs();
    }, 120);
  });
  $('f-type').addEventListener('change', () => {
    const t = $('f-type').value, d = $('f-dyno');
    if (t && d.value && d.value !== t && !d.value.startsWith(t + '.')) d.value = '';
    logConnect();
  });
  $('f-dyno').addEventListener('change', logConnect);
  $('f-source').addEventListener('change', logConnect);
  // toBottom scrolls to the newest line, remembering where that was: a
  // scroll event there is ours, not the user's.
  function toBottom() {
    logBox.scrollTop = logBox.scrollHeight;
    LOG.autoTop = logBox.scrollTop;
  }
  logBox.addEventListener('scroll', () => {
    if (LOG.follow && Math.abs(logBox.scrollTop - LOG.autoTop) < 2) return;
    const atBottom = logBox.scrollTop + logBox.clientHeight >= logBox.scrollHeight - 40;
    LOG.follow = atBottom;
    $('log-jump').hidden = atBottom;
  });
  $('log-jump').addEventListener('click', () => {
    LOG.follow = true;
    $('log-jump').hidden = true;
    toBottom();
  });

  // updateLogFilters fills the filter menus from the running app, keeping
  // the current choices.
  function updateLogFilters() {
    if (!S.info) return;
    const types = procTypes();
    const dynos = [...new Set((S.info.dynos || []).map((d) => d.name))].sort();
    const addons = (S.info.addons || []).map((a) => a.name);
    const platform = ['router', 'api', 'dynobox'];
    const sig = JSON.stringify([types, dynos, addons]);
    const ft = $('f-type'), fd = $('f-dyno');
    if (ft.dataset.sig === sig) return;
    ft.dataset.sig = sig;
    const keepT = ft.value, keepD = fd.value;
    const opt = (v) => h('option', { value: v }, v);
    ft.replaceChildren(h('option', { value: '' }, 'all'), ...types.map(opt));
    fd.replaceChildren(h('option', { value: '' }, 'all'),
      h('optgroup', { label: 'Dynos' }, dynos.map(opt)),
      addons.length ? h('optgroup', { label: 'Add-ons' }, addons.map(opt)) : null,
      h('optgroup', { label: 'Platform' }, platform.map(opt)));
    for (const [el, v] of [[ft, keepT], [fd, keepD]]) {
      if (v && !Array.from(el.options).some((o) => o.value === v)) el.append(opt(v));
      el.value = v;
    }
  }

  // ---------------------------------------------------------------- ANSI
  // ansi renders text with SGR escape sequences (colours, bold, dim,
  // italic, underline, inverse) as spans; other escapes are dropped.
  const ANSI_RE = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]/g;
  const CUBE = [0, 95, 135, 175, 215, 255];
  function color256(n) {
    if (n < 16) return n;
    if (n >= 232) {
      const g = 8 + 10 * (n - 232);
      return `rgb(${g},${g},${g})`;
    }
    n -= 16;
    return `rgb(${CUBE[Math.floor(n / 36)]},${CUBE[Math.floor(n / 6) % 6]},${CUBE[n % 6]})`;
  }
  function ansi(text, parent) {
    if (text.indexOf('\x1b') < 0) {
      parent.textContent = text;
      return;
    }
    const st = { fg: null, bg: null, b: false, d: false, i: false, u: false, inv: false };
    const plainStyle = () => st.fg === null && st.bg === null && !st.b && !st.d && !st.i && !st.u && !st.inv;
    const paint = (el, c, kind) => {
      if (c === null) return;
      if (typeof c === 'number') el.classList.add(kind + c);
      else el.style[kind === 'f' ? 'color' : 'backgroundColor'] = c;
    };
    const emit = (str) => {
      if (!str) return;
      if (plainStyle()) {
        parent.append(str);
        return;
      }
      const sp = document.createElement('span');
      sp.textContent = str;
      let fg = st.fg, bg = st.bg;
      if (st.inv) {
        fg = st.bg === null ? 'var(--log-bg)' : st.bg;
        bg = st.fg === null ? 'var(--log-fg)' : st.fg;
      }
      paint(sp, fg, 'f');
      paint(sp, bg, 'b');
      if (st.b) sp.classList.add('a-b');
      if (st.d) sp.classList.add('a-d');
      if (st.i) sp.classList.add('a-i');
      if (st.u) sp.classList.add('a-u');
      parent.append(sp);
    };
    const sgr = (params) => {
      const c = params === '' ? [0] : params.split(/[;:]/).map((v) => (v === '' ? 0 : Number(v)));
      for (let k = 0; k < c.length; k++) {
        const n = c[k];
        if (n === 0) Object.assign(st, { fg: null, bg: null, b: false, d: false, i: false, u: false, inv: false });
        else if (n === 1) st.b = true;
        else if (n === 2) st.d = true;
        else if (n === 3) st.i = true;
        else if (n === 4) st.u = true;
        else if (n === 7) st.inv = true;
        else if (n === 22) st.b = st.d = false;
        else if (n === 23) st.i = false;
        else if (n === 24) st.u = false;
        else if (n === 27) st.inv = false;
        else if (n >= 30 && n <= 37) st.fg = n - 30;
        else if (n >= 90 && n <= 97) st.fg = n - 90 + 8;
        else if (n === 39) st.fg = null;
        else if (n >= 40 && n <= 47) st.bg = n - 40;
        else if (n >= 100 && n <= 107) st.bg = n - 100 + 8;
        else if (n === 49) st.bg = null;
        else if (n === 38 || n === 48) {
          let v = null;
          if (c[k + 1] === 5) { v = color256(c[k + 2] & 255); k += 2; }
          else if (c[k + 1] === 2) { v = `rgb(${c[k + 2] & 255},${c[k + 3] & 255},${c[k + 4] & 255})`; k += 4; }
          if (n === 38) st.fg = v; else st.bg = v;
        }
      }
    };
    let last = 0, m;
    ANSI_RE.lastIndex = 0;
    while ((m = ANSI_RE.exec(text))) {
      emit(text.slice(last, m.index));
      last = ANSI_RE.lastIndex;
      const seq = m[0];
      if (seq[1] === '[' && seq.endsWith('m')) sgr(seq.slice(2, -1));
    }
    emit(text.slice(last));
  }

  // ---------------------------------------------------------------- secrets
  async function reveal(key) {
    const r = await api('POST', '/api/dash/reveal', { key });
    return r.value;
  }
  // valueCell shows a config var's value, masked until revealed.
  function valueCell(key, value, masked) {
    const shown = key in S.revealed ? S.revealed[key] : value;
    const hidden = masked && !(key in S.revealed);
    const cell = h('span', { class: 'value' + (hidden ? ' masked' : '') + (shown.includes('\n') ? ' multiline' : ''), data: { key } }, shown);
    const btns = [];
    if (masked) {
      btns.push(button(hidden ? 'Reveal' : 'Hide', 'small ghost', async () => {
        if (hidden) S.revealed[key] = await reveal(key);
        else delete S.revealed[key];
        rerenderSecrets();
      }, { reveal: key }));
    }
    btns.push(button('Copy', 'small ghost', async () => {
      copyText(masked && !(key in S.revealed) ? await reveal(key) : shown, key);
    }, { copy: key }));
    return [cell, h('span', { class: 'value-btns' }, btns)];
  }
  function rerenderSecrets() {
    if (S.view === 'addons') renderAddons(true);
    if (S.view === 'config') renderConfig(true);
  }

  // ---------------------------------------------------------------- add-ons
  function addonCommand(a) {
    if (a.plan.startsWith('heroku-postgresql')) return 'dynobox pg:psql ' + a.name;
    if (a.plan.startsWith('heroku-redis')) return 'dynobox redis:cli ' + a.name;
    if (a.plan.startsWith('heroku-kafka')) return 'dynobox kafka:topics';
    return '';
  }

  let addonSig = '';
  function renderAddons(force) {
    if (!S.info) return;
    const list = S.info.addons || [];
    const sig = JSON.stringify(list);
    if (sig === addonSig && !force) return;
    addonSig = sig;
    const box = $('addon-list');
    if (!list.length) {
      box.replaceChildren(h('div', { class: 'card empty' }, 'No add-ons. Declare them in app.json ("addons": ["heroku-postgresql"]) or attach one above.'));
      return;
    }
    box.replaceChildren(...list.map((a) => {
      const masked = new Set(a.masked || []);
      const cmd = addonCommand(a);
      const rows = [];
      if (a.address) rows.push(h('tr', {}, h('th', {}, 'Address'), h('td', {}, h('span', { class: 'value' }, a.address)), h('td', { class: 'value-btns-cell' }, button('Copy', 'small ghost', () => copyText(a.address, 'address')))));
      for (const k of Object.keys(a.config_vars || {}).sort()) {
        const [cell, btns] = valueCell(k, a.config_vars[k], masked.has(k));
        rows.push(h('tr', { data: { var: k } }, h('th', {}, k), h('td', {}, cell), h('td', { class: 'value-btns-cell' }, btns)));
      }
      if (cmd) rows.push(h('tr', {}, h('th', {}, 'Open a shell'), h('td', {}, h('code', { class: 'cmd' }, '$ ' + cmd)), h('td', { class: 'value-btns-cell' }, button('Copy', 'small ghost', () => copyText(cmd, 'command')))));
      return h('div', { class: 'card flush addon-card', data: { addon: a.name } },
        h('div', { class: 'type-head' },
          h('span', { class: 'dot s-' + a.state }),
          h('h2', {}, a.name),
          h('span', { class: 'muted' }, a.plan),
          stateBadge(a.state),
          h('span', { class: 'spacer' }),
          confirmButton('Destroy', 'Destroy ' + a.name + ' and its data?', 'small ghost', async () => {
            await api('DELETE', '/api/v1/addons/' + encodeURIComponent(a.name));
            toast('Destroyed ' + a.name + ' · dynos restarting');
            changed();
          })),
        h('table', { class: 'kv' }, h('tbody', {}, rows)));
    }));
  }

  $('addon-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const btn = e.submitter || e.target.querySelector('button');
    const plan = $('addon-plan').value, as = $('addon-as').value.trim();
    toast('Attaching ' + plan + '…');
    run(btn, async () => {
      const r = await api('POST', '/api/v1/addons', { plan, as });
      toast('Attached ' + r.addon.name + ' · release v' + r.release.version + ' · dynos restarting');
      $('addon-as').value = '';
      changed();
    });
  });

  // ---------------------------------------------------------------- config
  const SOURCES = { config: 'set here', env: 'env file', addon: 'add-on' };

  async function setConfig(set, unset) {
    const rel = await api('POST', '/api/v1/config', unset ? { unset } : { set });
    const what = unset ? 'Unset ' + unset.join(', ') : 'Set ' + Object.keys(set).join(', ');
    toast(what + ' · release v' + rel.version + ' · restarting dynos');
    changed();
  }

  // Tables are redrawn only when their data changed: a redraw would
  // disarm a confirm button half-way through its two clicks.
  let configSig = '';
  function renderConfig(force) {
    if (!S.config) return;
    if (S.editing && !force) return; // keep what the user is typing
    const sig = JSON.stringify([S.config, S.revealed, S.editing]);
    if (sig === configSig && !force) return;
    configSig = sig;
    const rows = S.config.map((v) => {
      const editing = S.editing === v.key;
      let valueTd, actions;
      if (editing) {
        const start = v.key in S.revealed ? S.revealed[v.key] : v.masked ? '' : v.value;
        const input = start.includes('\n')
          ? h('textarea', { class: 'edit', rows: 4, spellcheck: 'false' }, start)
          : h('input', { class: 'edit', value: start, spellcheck: 'false', autocomplete: 'off' });
        const save = async () => {
          await setConfig({ [v.key]: input.value });
          S.editing = null;
          if (v.key in S.revealed) S.revealed[v.key] = input.value;
          renderConfig(true);
        };
        input.addEventListener('keydown', (e) => {
          if (e.key === 'Escape') { S.editing = null; renderConfig(true); }
          if (e.key === 'Enter' && input.tagName === 'INPUT') { e.preventDefault(); run(null, save); }
        });
        setTimeout(() => input.focus(), 0);
        valueTd = h('td', { class: 'editing' }, input);
        actions = [button('Save', 'small primary', save, { save: v.key }), button('Cancel', 'small ghost', () => { S.editing = null; renderConfig(true); })];
      } else {
        valueTd = h('td', {}, h('div', { class: 'vline' }, valueCell(v.key, v.value, v.masked)));
        actions = [];
        if (v.source !== 'addon') {
          actions.push(button('Edit', 'small', async () => {
            if (v.masked && !(v.key in S.revealed)) S.revealed[v.key] = await reveal(v.key);
            S.editing = v.key;
            renderConfig(true);
          }, { edit: v.key }));
        }
        if (v.source === 'config') {
          actions.push(confirmButton('Delete', 'Delete ' + v.key + '?', 'small ghost', () => setConfig(null, [v.key]), { del: v.key }));
        }
      }
      return h('tr', { data: { var: v.key } },
        h('td', {}, h('code', { class: 'key' }, v.key)),
        valueTd,
        h('td', {}, h('span', { class: 'src src-' + v.source, title: v.source === 'addon' ? 'set by an add-on: change the add-on instead' : '' }, SOURCES[v.source] || v.source)),
        h('td', { class: 'actions' }, actions));
    });
    $('config-rows').replaceChildren(...rows);
    if (!rows.length) $('config-rows').replaceChildren(h('tr', {}, h('td', { colspan: 4, class: 'empty' }, 'No config vars yet.')));
  }

  $('config-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const key = $('new-key').value.trim(), value = $('new-value').value;
    if (!key) { $('new-key').focus(); return; }
    run(e.submitter, async () => {
      await setConfig({ [key]: value });
      $('new-key').value = '';
      $('new-value').value = '';
    });
  });

  // ---------------------------------------------------------------- releases
  let releaseSig = '';
  function renderReleases(force) {
    if (!S.releases) return;
    const sig = JSON.stringify([S.releases, S.builds]);
    if (sig === releaseSig && !force) return;
    releaseSig = sig;
    const cur = S.releases.find((r) => r.status === 'succeeded');
    const current = cur ? cur.version : 0;
    renderBuilds();
    $('release-rows').replaceChildren(...S.releases.map((r) => h('tr', { data: { version: r.version } },
      h('td', {}, h('strong', {}, 'v' + r.version), r.version === current ? h('span', { class: 'badge current' }, 'current') : ''),
      h('td', {}, r.description, r.build_id && !r.description.endsWith(' ' + r.build_id) ? h('span', { class: 'muted' }, ' · build ' + r.build_id) : ''),
      h('td', {}, h('span', { title: fullTime(r.created_at) }, sinceSpan(r.created_at), ' ago')),
      h('td', {}, r.status ? h('span', { class: 'state s-' + (r.status === 'succeeded' ? 'up' : r.status) }, r.status) : ''),
      h('td', { class: 'actions' }, r.version === current ? '' : confirmButton('Roll back', 'Roll back to v' + r.version + '?', 'small', async () => {
        const rel = await api('POST', '/api/v1/releases/rollback', { version: r.version });
        toast('Rolled back to v' + r.version + ' · release v' + rel.version + ' · restarting dynos');
        changed();
      }, { rollback: r.version })))));
  }

  function renderBuilds() {
    const builds = S.builds || [];
    $('build-rows').replaceChildren(...(builds.length ? builds.map((b) => h('tr', { data: { build: b.id } },
      h('td', {}, h('button', { class: 'btn link', type: 'button', title: 'show its output', onclick: () => showBuild(b.id) }, b.id)),
      h('td', {}, b.kind),
      h('td', {}, h('span', { title: fullTime(b.started_at) }, sinceSpan(b.started_at), ' ago')),
      h('td', {}, (b.duration / 1e9).toFixed(2) + ' s'),
      h('td', {}, h('span', { class: 'state s-' + (b.status === 'succeeded' ? 'up' : 'crashed') }, b.status))))
      : [h('tr', {}, h('td', { colspan: 5, class: 'muted' }, 'No builds yet: this app has nothing to build, or was started with --build none.'))]));
  }

  async function showBuild(id) {
    const b = await api('GET', '/api/v1/builds/' + encodeURIComponent(id));
    const out = $('build-output');
    out.textContent = b.output || '(no output)';
    out.hidden = false;
    out.scrollIntoView({ block: 'nearest' });
  }

  $('deploy').addEventListener('click', (e) => run(e.currentTarget, async () => {
    toast('Deploying: building…');
    try {
      const res = await api('POST', '/api/v1/deploy', {});
      toast('Deployed build ' + res.build.id + ' as v' + res.release + ' · swapping dynos');
    } finally {
      changed();
    }
  }));

  // ---------------------------------------------------------------- views
  const VIEWS = ['overview', 'dynos', 'logs', 'addons', 'config', 'releases'];
  function showView() {
    const v = VIEWS.includes(location.hash.slice(1)) ? location.hash.slice(1) : 'overview';
    if (v === S.view) return;
    S.view = v;
    document.body.dataset.view = v;
    for (const name of VIEWS) $('view-' + name).hidden = name !== v;
    for (const a of document.querySelectorAll('#tabs a')) a.classList.toggle('active', a.dataset.view === v);
    if (v === 'logs') {
      updateLogFilters();
      logConnect();
      logStat();
    } else {
      logDisconnect();
    }
    if (S.info) {
      if (v === 'overview') renderOverview(true);
      if (v === 'dynos') renderDynos();
      if (v === 'addons') renderAddons(true);
    }
    if (v === 'config') { renderConfig(true); refreshConfig(); }
    if (v === 'releases') { renderReleases(true); refreshReleases(); }
  }
  window.addEventListener('hashchange', showView);
  showView();

  every(1000, refreshInfo);
  every(2000, refreshStats);
  every(3000, async () => {
    if (S.view === 'config') await refreshConfig();
    if (S.view === 'releases' || S.view === 'overview') await refreshReleases();
  });
})();
