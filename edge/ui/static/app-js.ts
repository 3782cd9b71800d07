/**
 * The dashboard's one script (no build step, no framework): draws the charts a page declares and
 * refreshes its live regions. Pages work without it; it only adds charts and live updates.
 *
 * - `<div data-chart>` holds a `<script type="application/json">` with
 *   `{ "series": [{ "label", "unit"? }], "data": [[x seconds…], [y…]…] }`, drawn with uPlot.
 * - `<section data-live="/ui/…" data-interval="3000">` is re-fetched (same origin, its session
 *   cookie) every interval while the tab is visible and its content replaced; a 401 means the
 *   session ended, so the page goes to the sign-in form.
 * - `<form data-confirm="…">` asks before it submits (removals, replays).
 */
export const APP_JS = `(() => {
  'use strict';
  const PALETTE = ['#1f5fbf', '#b3261e', '#1e7a3c', '#8a4b00', '#6b3fa0', '#00707a'];
  const charts = new WeakMap();

  function drawCharts(root) {
    if (typeof uPlot !== 'function') return;
    for (const el of root.querySelectorAll('[data-chart]')) {
      const spec = el.querySelector('script[type="application/json"]');
      if (!spec || charts.has(el)) continue;
      let data;
      try { data = JSON.parse(spec.textContent); } catch { continue; }
      const series = [{}].concat(data.series.map((s, i) => ({ label: s.label, stroke: PALETTE[i % PALETTE.length], width: 2, value: (u, v) => v == null ? '–' : v + (s.unit || '') })));
      const opts = { width: Math.max(240, el.clientWidth), height: 220, series, axes: [{}, { size: 56 }], legend: { live: true } };
      const plot = new uPlot(opts, data.data, el);
      charts.set(el, plot);
    }
  }

  function resize() {
    for (const el of document.querySelectorAll('[data-chart]')) {
      const plot = charts.get(el);
      if (plot) plot.setSize({ width: Math.max(240, el.clientWidth), height: 220 });
    }
  }

  function live(section) {
    const url = section.getAttribute('data-live');
    const every = Math.min(5000, Number(section.getAttribute('data-interval')) || 3000);
    let busy = false;
    const tick = async () => {
      if (busy || document.hidden) return;
      busy = true;
      try {
        const res = await fetch(url, { credentials: 'same-origin', headers: { accept: 'text/html' } });
        if (res.status === 401) { location.href = '/ui/login?next=' + encodeURIComponent(location.pathname + location.search); return; }
        if (!res.ok) return;
        section.innerHTML = await res.text();
        section.setAttribute('data-refreshed', String(Date.now()));
        drawCharts(section);
      } catch {
        // A failed poll keeps the last content; the next tick tries again.
      } finally {
        busy = false;
      }
    };
    setInterval(tick, every);
  }

  document.addEventListener('submit', (event) => {
    const form = event.target;
    const question = form instanceof HTMLFormElement && form.getAttribute('data-confirm');
    if (question && !window.confirm(question)) event.preventDefault();
  });
  window.addEventListener('resize', resize);
  drawCharts(document);
  for (const section of document.querySelectorAll('[data-live]')) live(section);
})();
`;
