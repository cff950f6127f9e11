/**
 * The dashboard page: reads /api/overview and /api/series with the bearer token (taken from the
 * URL's #token= fragment into sessionStorage), renders instances, backups, alerts and uPlot
 * plots, and refreshes every sampling interval. Read-only: it has no action that changes anything.
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import './style.css';

interface Check { name: string; status: 'ok' | 'warn' | 'fail'; detail: string }
interface Backup { database: string; last_backup_at?: string; size_bytes?: number; last_verify?: { at: string; ok: boolean; error?: string }; overdue?: boolean; schedule?: string }
interface Snapshot {
  engine: string; instance: string; at: string; state: string; version: string; full_version?: string; port?: number;
  notice?: { eol: boolean; message?: string }; healthy?: boolean; checks?: Check[]; total_bytes?: number;
  key: { connections?: number; cache_hit_ratio?: number; transactions_per_second?: number; operations_per_second?: number };
  backups?: Backup[]; errors?: string[]; log_tail?: string[];
}
interface Overview { now: string; last_round_at?: string; interval_ms?: number; instances: Snapshot[]; alerts: { kind: string; message: string; raised_at: string; resolved_at?: string }[]; sampled: boolean }

const PLOTS: { metric: string; title: string; alt?: string; fmt: (v: number) => string }[] = [
  { metric: 'connections', title: 'Connections', fmt: (v) => String(Math.round(v)) },
  { metric: 'cache_hit_ratio', title: 'Cache hit ratio', fmt: (v) => `${(v * 100).toFixed(1)}%` },
  { metric: 'transactions_per_second', alt: 'operations_per_second', title: 'Transactions / operations per second', fmt: (v) => v.toFixed(1) },
  { metric: 'total_size_bytes', title: 'Size', fmt: (v) => bytes(v) },
];

const $ = <T extends HTMLElement>(sel: string) => document.querySelector(sel) as T;

function takeToken(): string | null {
  const m = /(?:^#|&)token=([A-Za-z0-9._~-]{16,256})/.exec(location.hash);
  if (m) {
    sessionStorage.setItem('pdb-token', m[1]!);
    history.replaceState(null, '', location.pathname);
  }
  return sessionStorage.getItem('pdb-token');
}
const token = takeToken();
// the URL with the token opened over the page without it: a same-page navigation, so reload to use it
window.addEventListener('hashchange', () => {
  if (/token=/.test(location.hash)) {
    takeToken();
    location.reload();
  }
});

function bytes(n: number | undefined): string {
  if (n === undefined) return '-';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(i ? 1 : 0)} ${u[i]}`;
}

function age(iso: string | undefined, now: number): string {
  if (!iso) return '-';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 120) return `${s}s ago`;
  if (s < 7200) return `${Math.round(s / 60)}m ago`;
  if (s < 172800) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86400)}d ago`;
}

function el(tag: string, attrs: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElement {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) e.append(c);
  return e;
}

async function api<T>(path: string): Promise<T> {
  const r = await fetch(path, { headers: { authorization: `Bearer ${token}` }, cache: 'no-store' });
  if (!r.ok) {
    const body = (await r.json().catch(() => ({}))) as { error?: { message?: string } };
    throw new Error(`${r.status}: ${body.error?.message ?? r.statusText}`);
  }
  return (await r.json()) as T;
}

function problem(text: string | undefined): void {
  const p = $('#problem');
  p.hidden = !text;
  p.textContent = text ?? '';
}

let range = '1h';
let picked = '';
let intervalMs = 15_000;
const plots = new Map<string, uPlot>();
/** The time range of the last query, in seconds: the x axis shows the whole range, not just the points. */
const span = { from: 0, to: 0 };

function renderInstances(o: Overview): void {
  const now = Date.parse(o.now);
  const body = $('#instances tbody');
  body.replaceChildren();
  for (const s of o.instances) {
    const id = `${s.engine}/${s.instance}`;
    const fails = (s.checks ?? []).filter((c) => c.status !== 'ok');
    const health = el('td', { class: 'health' });
    if (s.healthy === undefined) health.append(el('span', { class: 'muted' }, '-'));
    else if (!fails.length) health.append(el('span', { class: 'ok' }, 'healthy'));
    for (const c of fails) health.append(el('div', { class: `check ${c.status === 'fail' ? 'bad' : 'warn'}`, 'data-check': c.name, 'data-status': c.status }, `${c.status === 'fail' ? '✗' : '!'} ${c.name}: ${c.detail}`));
    for (const e of s.errors ?? []) health.append(el('div', { class: 'check warn' }, e));
    const version = el('td', {}, s.full_version ?? s.version);
    if (s.notice?.message) version.append(el('span', { class: 'notice', 'data-eol': String(s.notice.eol) }, s.notice.message));
    const state = el('td', { class: `state state-${s.state}` }, s.state);
    if (s.state === 'crashed' && s.log_tail?.length) state.append(el('div', { class: 'check muted', title: s.log_tail.join('\n') }, `log: ${s.log_tail[s.log_tail.length - 1]!.slice(0, 160)}`));
    body.append(
      el('tr', { 'data-instance': id },
        el('td', {}, id),
        state,
        version,
        el('td', {}, s.port === undefined ? '-' : String(s.port)),
        el('td', {}, bytes(s.total_bytes)),
        el('td', {}, s.key.connections === undefined ? '-' : String(s.key.connections)),
        health,
      ),
    );
  }
  if (!o.instances.length) body.append(el('tr', {}, el('td', { colspan: '7', class: 'muted' }, o.sampled ? 'No instances.' : 'No samples yet: start the monitor with `portunix-db monitor --detach`.')));
  const backups = $('#backups tbody');
  backups.replaceChildren();
  for (const s of o.instances) {
    for (const b of s.backups ?? []) {
      const v = b.last_verify;
      backups.append(
        el('tr', { 'data-backup': `${s.engine}/${s.instance}/${b.database}` },
          el('td', {}, `${s.engine}/${s.instance}`),
          el('td', {}, b.database),
          el('td', { class: b.overdue ? 'bad' : '' }, `${age(b.last_backup_at, now)}${b.overdue ? ` (overdue, ${b.schedule})` : ''}`),
          el('td', {}, bytes(b.size_bytes)),
          el('td', { class: v ? (v.ok ? 'ok' : 'bad') : 'muted' }, v ? `${v.ok ? 'passed' : 'FAILED'} ${age(v.at, now)}` : 'never verified'),
        ),
      );
    }
  }
  if (!backups.children.length) backups.append(el('tr', {}, el('td', { colspan: '5', class: 'muted' }, 'No backups yet.')));
  const alerts = $('#alerts');
  alerts.replaceChildren();
  const open = o.alerts.filter((a) => !a.resolved_at);
  for (const a of open) alerts.append(el('div', { class: 'alert bad', 'data-kind': a.kind }, `${a.message} (since ${age(a.raised_at, now)})`));
  if (!open.length) alerts.append(el('span', { class: 'muted' }, 'none'));
  intervalMs = Math.min(60_000, Math.max(1000, o.interval_ms ?? 15_000));
  const last = o.last_round_at ? Date.parse(o.last_round_at) : undefined;
  const stale = last === undefined || now - last > 3 * intervalMs + 5000;
  $('#monitor').textContent = last === undefined ? 'the monitor has not sampled yet' : `last sample ${age(o.last_round_at, now)}, every ${intervalMs / 1000}s${stale ? ' — STALE: is `portunix-db monitor` running?' : ''}`;
  $('#monitor').className = stale ? 'warn' : 'muted';
  const pick = $<HTMLSelectElement>('#pick');
  const ids = o.instances.map((s) => `${s.engine}/${s.instance}`);
  if (pick.options.length !== ids.length || ids.some((id, i) => pick.options[i]?.value !== id)) {
    pick.replaceChildren(...ids.map((id) => el('option', { value: id }, id)));
    if (!ids.includes(picked)) picked = ids[0] ?? '';
    pick.value = picked;
  }
}

async function renderPlots(): Promise<void> {
  const container = $('#plots');
  if (!picked) return;
  const [engine, instance] = picked.split('/');
  for (const p of PLOTS) {
    const q = (metric: string) => `/api/series?${new URLSearchParams({ engine: engine!, instance: instance!, metric, range, points: '300' })}`;
    let data = await api<{ points: [number, number, number, number][]; from: number; to: number }>(q(p.metric));
    let metric = p.metric;
    if (!data.points.length && p.alt) {
      data = await api(q(p.alt));
      metric = p.alt;
    }
    let box = container.querySelector<HTMLElement>(`[data-plot="${p.metric}"]`);
    if (!box) {
      box = el('div', { class: 'plot', 'data-plot': p.metric }, el('h3', {}, p.title), el('div', { class: 'chart' }));
      container.append(box);
    }
    box.dataset['metric'] = metric;
    box.dataset['points'] = String(data.points.length);
    const chart = box.querySelector<HTMLElement>('.chart')!;
    span.from = data.from / 1000;
    span.to = data.to / 1000;
    const xs = data.points.map((x) => x[0] / 1000);
    const ys = data.points.map((x) => x[1]);
    const existing = plots.get(p.metric);
    if (!data.points.length) {
      existing?.destroy();
      plots.delete(p.metric);
      chart.replaceChildren(el('div', { class: 'empty muted' }, 'no samples in this range'));
      continue;
    }
    if (existing) existing.setData([xs, ys]);
    else {
      chart.replaceChildren();
      plots.set(p.metric, new uPlot({ width: 460, height: 180, series: [{}, { label: p.title, stroke: '#1e88e5', width: 1.5, value: (_u, v) => (v === null ? '-' : p.fmt(v)) }], axes: [{}, { values: (_u, vals) => vals.map((v) => p.fmt(v)), size: 70 }], scales: { x: { time: true, range: () => [span.from, span.to] } } }, [xs, ys], chart));
    }
  }
}

async function refresh(): Promise<void> {
  try {
    const o = await api<Overview>('/api/overview');
    renderInstances(o);
    await renderPlots();
    problem(undefined);
  } catch (err) {
    problem(`Cannot read the dashboard data: ${(err as Error).message}`);
  }
  setTimeout(refresh, intervalMs);
}

function setRange(r: string): void {
  range = r;
  for (const b of document.querySelectorAll<HTMLButtonElement>('#ranges button')) b.setAttribute('aria-pressed', String(b.dataset['range'] === r));
}

if (!token) {
  problem('No access token: open the URL that `portunix-db dashboard` printed (it ends with #token=...).');
  $('#monitor').textContent = '';
} else {
  setRange('1h');
  for (const b of document.querySelectorAll<HTMLButtonElement>('#ranges button')) b.addEventListener('click', () => { setRange(b.dataset['range']!); void renderPlots(); });
  $<HTMLSelectElement>('#pick').addEventListener('change', (e) => {
    picked = (e.target as HTMLSelectElement).value;
    for (const p of plots.values()) p.destroy();
    plots.clear();
    $('#plots').replaceChildren();
    void renderPlots();
  });
  void refresh();
}
