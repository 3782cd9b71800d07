/**
 * The dashboard's stylesheet. Colours meet WCAG 2.1 AA contrast (4.5:1 for text) on their
 * backgrounds; focus is always visible; below 720 px the navigation wraps and wide tables
 * scroll inside their own box instead of widening the page.
 */
export const APP_CSS = `
:root { --fg: #1b1f24; --muted: #4a5360; --bg: #ffffff; --panel: #f4f6f8; --line: #d0d7de; --link: #0b57b0;
  --ok: #1e6b34; --warn: #8a4b00; --bad: #a4221b; --focus: #ffbf47; font-family: system-ui, -apple-system, "Segoe UI", sans-serif; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: var(--bg); line-height: 1.45; font-size: 15px; }
a { color: var(--link); }
a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible, summary:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
.skip { position: absolute; left: -9999px; } .skip:focus { left: 8px; top: 8px; background: var(--bg); padding: 6px 10px; z-index: 2; }
header.top { display: flex; flex-wrap: wrap; gap: 8px 20px; align-items: center; padding: 10px 20px; background: #14213d; color: #fff; }
header.top a { color: #fff; } header.top .brand { font-weight: 700; text-decoration: none; font-size: 17px; }
header.top nav ul { display: flex; flex-wrap: wrap; gap: 4px 14px; list-style: none; margin: 0; padding: 0; }
header.top nav a { text-decoration: none; padding: 2px 0; } header.top nav a[aria-current="page"] { border-bottom: 2px solid var(--focus); }
header.top .who { margin-left: auto; display: flex; gap: 10px; align-items: center; font-size: 13px; }
header.top .who button { background: transparent; color: #fff; border: 1px solid #fff; }
main { padding: 16px 20px 40px; max-width: 1280px; }
h1 { font-size: 22px; margin: 4px 0 12px; } h2 { font-size: 18px; margin: 22px 0 8px; } h3 { font-size: 15px; margin: 14px 0 6px; }
.muted { color: var(--muted); }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); gap: 12px; }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px; }
.card .figure { font-size: 24px; font-weight: 650; }
.table-wrap { overflow-x: auto; border: 1px solid var(--line); border-radius: 6px; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--panel); font-weight: 600; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr:last-child td { border-bottom: 0; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 13px; word-break: break-all; }
.badge { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 12px; font-weight: 600; border: 1px solid currentColor; white-space: nowrap; }
.ok { color: var(--ok); } .warn { color: var(--warn); } .bad { color: var(--bad); }
form.inline { display: inline; }
form.filters { display: flex; flex-wrap: wrap; gap: 10px 14px; align-items: flex-end; margin: 8px 0 14px; }
form.filters label, form.stack label { display: flex; flex-direction: column; font-size: 13px; color: var(--muted); gap: 2px; }
form.stack { display: grid; gap: 10px; max-width: 420px; }
input, select, button { font: inherit; padding: 5px 8px; border: 1px solid #8c959f; border-radius: 4px; background: #fff; color: var(--fg); }
button { cursor: pointer; background: #0b57b0; color: #fff; border-color: #0b57b0; }
button.secondary { background: #fff; color: var(--link); } button.danger { background: var(--bad); border-color: var(--bad); }
.pager { display: flex; gap: 16px; margin: 10px 0; align-items: center; }
.notice { padding: 8px 12px; border-radius: 6px; border: 1px solid var(--line); background: var(--panel); margin: 8px 0; }
.notice.error { border-color: var(--bad); color: var(--bad); background: #fdf0ef; }
ol.timeline { list-style: none; padding: 0; margin: 0; border-left: 3px solid var(--line); }
ol.timeline li { position: relative; padding: 4px 0 10px 16px; }
ol.timeline li::before { content: ""; position: absolute; left: -8px; top: 9px; width: 13px; height: 13px; border-radius: 50%; background: var(--bg); border: 3px solid var(--muted); }
ol.timeline li.ok::before { border-color: var(--ok); } ol.timeline li.warn::before { border-color: var(--warn); } ol.timeline li.bad::before { border-color: var(--bad); }
ol.timeline .when { font-variant-numeric: tabular-nums; color: var(--muted); font-size: 13px; }
ol.timeline .what { color: var(--fg); font-weight: 600; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 0; } dl.facts dt { color: var(--muted); }
[data-chart] { min-height: 240px; margin: 8px 0; }
.login { max-width: 420px; margin: 60px auto; }
@media (max-width: 720px) {
  header.top { padding: 8px 12px; } main { padding: 12px; }
  header.top .who { margin-left: 0; }
  th, td { padding: 5px 6px; }
}
`;
