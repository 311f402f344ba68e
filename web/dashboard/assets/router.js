// dynobox dashboard, router panel: requests/min by status class, p95
// response time and H-codes/min over the last ten minutes (GET
// /api/v1/metrics, what `dynobox metrics --json` prints), and the web
// dynos' autoscaling. Separate from app.js: it only reads, and it draws
// into #ov-router, next to the dyno load charts.
'use strict';
(() => {
  const SVGNS = 'http://www.w3.org/2000/svg';
  const box = () => document.getElementById('ov-router');

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }
  function svgEl(tag, attrs) {
    const e = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    return e;
  }

  // lines draws each series (one class each) on one scale; target, if
  // given, is a dashed line (the autoscaling p95 target).
  function lines(series, target, cls, w = 300, hgt = 60) {
    const svg = svgEl('svg', { viewBox: `0 0 ${w} ${hgt}`, preserveAspectRatio: 'none', class: 'chart router ' + cls });
    let max = target || 0;
    for (const s of series) for (const v of s.values) max = Math.max(max, v);
    max = max > 0 ? max * 1.15 : 1;
    const y = (v) => hgt - 2 - (v / max) * (hgt - 4);
    svg.append(svgEl('line', { x1: 0, x2: w, y1: hgt / 2, y2: hgt / 2, class: 'grid' }));
    if (target) svg.append(svgEl('line', { x1: 0, x2: w, y1: y(target), y2: y(target), class: 'target' }));
    for (const s of series) {
      const n = s.values.length;
      if (n < 2) continue;
      const d = s.values.map((v, k) => (k ? 'L' : 'M') + ((k / (n - 1)) * w).toFixed(1) + ' ' + y(v).toFixed(1)).join('');
      if (s.area) svg.append(svgEl('path', { d: d + `L${w} ${hgt}L0 ${hgt}Z`, class: 'area ' + s.cls }));
      svg.append(svgEl('path', { d, class: 'line ' + s.cls }));
    }
    return svg;
  }

  function card(title, value, sub, svg, legend) {
    const c = el('div', 'chart-card router-card');
    const head = el('div', 'chart-label');
    head.append(el('span', '', title), el('span', 'v', value), el('span', 'peak', sub));
    const b = el('div', 'chart-box');
    b.append(svg);
    c.append(head, b);
    if (legend) c.append(el('div', 'legend muted', legend));
    return c;
  }

  const perMin = (w, n) => (w.seconds > 0 ? (n * 60) / w.seconds : 0);
  const classes = ['2xx', '3xx', '4xx', '5xx'];

  function render(m) {
    const b = box();
    if (!b) return;
    const ser = m.series || [];
    const last = m.last_minute || { requests: 0, classes: {}, hcodes: {} };
    const byClass = classes.map((k) => ({ cls: 'c' + k, values: ser.map((w) => perMin(w, (w.classes || {})[k] || 0)), area: k === '2xx' }));
    const codes = [...new Set(ser.flatMap((w) => Object.keys(w.hcodes || {})))].sort();
    const hTotal = (w) => Object.values(w.hcodes || {}).reduce((a, b) => a + b, 0);
    const a = m.autoscale;
    const cards = [
      card('Requests/min', perMin(last, last.requests).toFixed(0), 'by status class', lines(byClass, 0, 'rpm'),
        classes.map((k) => `${k} ${perMin(last, (last.classes || {})[k] || 0).toFixed(0)}`).join(' · ')),
      card('p95', last.requests ? `${Math.round(last.p95_ms)} ms` : '–', `p50 ${Math.round(last.p50_ms || 0)} · p99 ${Math.round(last.p99_ms || 0)} ms`,
        lines([{ cls: 'p95', values: ser.map((w) => w.p95_ms || 0), area: true }], a ? a.p95_ms : 0, 'p95'),
        a ? `dashed: the autoscaling target, ${a.p95_ms} ms` : ''),
      card('H-codes/min', perMin(last, hTotal(last)).toFixed(1), codes.length ? codes.join(', ') : 'none',
        lines([{ cls: 'hcodes', values: ser.map((w) => perMin(w, hTotal(w))), area: true }], 0, 'hcodes'), ''),
    ];
    const auto = el('p', 'autoscale-state muted');
    auto.id = 'ov-autoscale';
    auto.textContent = a
      ? `Autoscaling web: ${a.min}..${a.max} dynos on a p95 of ${a.p95_ms} ms` + (a.last_decision ? ` · last decision: ${a.last_decision}` : '')
      : 'Autoscaling off (dynobox ps:autoscale:enable web --min 1 --max 3 --p95 500)';
    b.replaceChildren(...cards, auto);
  }

  async function poll() {
    try {
      const res = await fetch('/api/v1/metrics', { headers: { Accept: 'application/json' } });
      if (res.ok) render(await res.json());
    } catch (e) { /* the connection indicator of app.js says so */ }
  }
  document.addEventListener('DOMContentLoaded', () => {
    poll();
    setInterval(poll, 5000);
  });
})();
