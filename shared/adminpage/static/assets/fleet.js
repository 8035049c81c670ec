// fleet.js: the fleet view of the admin page (#/apps): the attention bar,
// the expiry timeline and the apps as a table (an expiring or expired
// certificate with a Renew link to its app's flow, csr.js), searched, filtered, sorted
// and paged by the server (GET /v1/summary, GET /v1/apps). The filter is
// the fragment's query (#/apps?q=…&status=…&platform=…&sort=…), so a view
// can be bookmarked and shared.
'use strict';

(() => {
  const M = window.mobilepush;
  const { $, $$, el, say, api, PLATFORM, STATE_TEXT, day, days, badge, appHref } = M;
  const PAGE = 100;
  const DEFAULT_SORT = 'attention';
  // The expiry checker's default thresholds (days): a mark takes the
  // colour of the smallest one its days left are within.
  const THRESHOLDS = [1, 3, 7, 14, 30, 60];
  const ATTENTION = ['expired', 'expiring', 'invalid', 'suspended'];
  const SVG = 'http://www.w3.org/2000/svg';

  const filter = { q: '', status: '', platform: '', sort: DEFAULT_SORT };
  let loaded = null; // the query the table shows (null: none yet)
  let next = '';
  let shown = 0;
  let seq = 0; // the latest list request; older answers are dropped
  const result = () => $('#apps-result');

  // query is the API query of the filter, without paging.
  function query(f) {
    const p = new URLSearchParams();
    if (f.q) p.set('q', f.q);
    if (f.status) p.set('status', f.status);
    if (f.platform) p.set('platform', f.platform);
    if (f.sort && f.sort !== DEFAULT_SORT) p.set('sort', f.sort);
    return p.toString();
  }
  const fragment = (f) => `#/apps${query(f) ? `?${query(f)}` : ''}`;

  function readControls() {
    filter.q = $('#f-q').value.trim();
    filter.status = $('#f-status').value;
    filter.platform = $('#f-platform').value;
    filter.sort = $('#f-sort').value || DEFAULT_SORT;
  }

  // setSelect chooses value in sel, adding an option for a state list the
  // menu does not offer (a shared link may hold any).
  function setSelect(sel, value) {
    if (value && !Array.from(sel.options).some((o) => o.value === value)) {
      sel.append(el('option', { value }, value.split(',').map((s) => STATE_TEXT[s] || s).join(' or ')));
    }
    sel.value = value;
  }

  // ---- Attention bar and timeline ------------------------------------------

  function renderAttention(sum) {
    const bar = $('#attention');
    const items = [];
    const pressed = (v) => (filter.status === v ? 'true' : 'false');
    items.push(el('button', { type: 'button', class: 'count count-all', 'data-filter-status': '', 'aria-pressed': pressed('') },
      el('b', {}, String(sum.apps)), ` app${sum.apps === 1 ? '' : 's'}`));
    items.push(el('button', { type: 'button', class: `count${sum.attention ? ' count-bad' : ''}`, 'data-filter-status': ATTENTION.join(','),
      'aria-pressed': pressed(ATTENTION.join(',')), 'data-count': 'attention' }, el('b', {}, String(sum.attention)), ' need attention'));
    const parts = [];
    for (const st of ['expired', 'expiring', 'invalid', 'suspended']) {
      const n = sum.states[st] || 0;
      parts.push(el('button', { type: 'button', class: `count count-${st}${n ? '' : ' count-zero'}`, 'data-filter-status': st, 'data-count': st, 'aria-pressed': pressed(st) },
        el('b', {}, String(n)), ` ${STATE_TEXT[st]}`));
    }
    const line = el('span', { class: 'states' });
    parts.forEach((p, i) => { if (i) line.append(el('span', { class: 'sep', 'aria-hidden': 'true' }, ' · ')); line.append(p); });
    bar.replaceChildren(...items, line);
    $('#renew-note').hidden = !((sum.states.expired || 0) + (sum.states.expiring || 0));
    $('#fleet-total').textContent = sum.attention
      ? `${sum.attention} of ${sum.apps} apps need someone today.`
      : `${sum.apps} app${sum.apps === 1 ? '' : 's'}; none needs attention.`;
  }

  const band = (d) => THRESHOLDS.find((t) => d <= t) || 'later';
  const svg = (tag, attrs, ...kids) => {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    e.append(...kids);
    return e;
  };

  // renderTimeline draws the next 12 months, one mark per expiry, stacked
  // where they would overlap; each mark is a link to its app.
  function renderTimeline(sum) {
    const W = 1000; const top = 22; const row = 9; const now = Date.now(); const span = 365 * 864e5;
    const marks = sum.next_expiries;
    const heights = new Map(); // column -> marks in it
    const g = svg('g', { class: 'marks' });
    for (const e of marks) {
      const x = Math.max(0, Math.min(W - 4, ((Date.parse(e.not_after) - now) / span) * W));
      const col = Math.round(x / 6);
      const n = heights.get(col) || 0;
      heights.set(col, n + 1);
      const y = top + (n % 8) * row;
      const label = `${e.name}: ${PLATFORM[e.platform]} expires on ${day(e.not_after)}, in ${days(e.days_left)}`;
      g.append(svg('a', { href: appHref(e.app_id), class: `mark d${band(e.days_left)}`, 'data-app': e.app_id, 'data-platform': e.platform, 'aria-label': label },
        svg('title', {}, label), svg('rect', { x: x.toFixed(1), y, width: 5, height: row - 2, rx: 1 })));
    }
    const axis = svg('g', { class: 'axis' });
    const start = new Date(now);
    for (let m = 0; m <= 12; m++) {
      const t = new Date(start.getFullYear(), start.getMonth() + m, 1).getTime();
      const x = ((t - now) / span) * W;
      if (x < 0 || x > W - 30) continue;
      axis.append(svg('line', { x1: x.toFixed(1), x2: x.toFixed(1), y1: 14, y2: top + 8 * row }),
        svg('text', { x: (x + 3).toFixed(1), y: 11 }, new Date(t).toLocaleString('en', { month: 'short' })));
    }
    const box = svg('svg', { viewBox: `0 0 ${W} ${top + 8 * row + 4}`, role: 'group', 'aria-labelledby': 'timeline-title', class: 'timeline-svg', preserveAspectRatio: 'none' }, axis, g);
    $('#timeline').replaceChildren(box);
    const note = sum.next_expiries_truncated ? ' Only the first 5000 are drawn.' : '';
    $('#timeline-note').textContent = `${marks.length} certificate${marks.length === 1 ? '' : 's'} or key${marks.length === 1 ? '' : 's'} expire in the next 12 months. Each mark is coloured by the alert threshold it is in and opens its app.${note}`;
    $('#timeline-legend').replaceChildren(...THRESHOLDS.map((t) => el('li', { class: `d${t}` }, `≤ ${days(t)}`)), el('li', { class: 'dlater' }, '> 60 days'));
  }

  async function loadSummary() {
    const { data } = await api('GET', '/v1/summary?horizon_days=365');
    renderAttention(data);
    renderTimeline(data);
    return data;
  }

  // ---- The table -------------------------------------------------------------

  function cell(label, ...kids) { return el('td', { 'data-label': label }, ...kids); }

  function rowOf(a) {
    const ids = [];
    if (a.apns && a.apns.bundle_id) ids.push(el('span', { class: 'block mono' }, a.apns.bundle_id));
    if (a.fcm && a.fcm.project_id) ids.push(el('span', { class: 'block mono' }, a.fcm.project_id));
    return el('tr', { 'data-app': a.id },
      el('th', { scope: 'row', 'data-label': 'App' }, el('a', { href: appHref(a.id), class: 'app-link' }, a.name), el('span', { class: 'block muted small mono' }, a.id)),
      cell('Bundle / project', ids.length ? ids : el('span', { class: 'muted' }, '—')),
      cell('APNs', badge(a.apns || { status: 'unconfigured' }, { 'data-platform': 'apns' }),
        M.csr.renewable(a) ? el('a', { href: `${appHref(a.id)}?renew=apns`, class: 'renew-link', 'data-renew': a.id, 'aria-label': `Renew the APNs certificate of ${a.name}` }, 'Renew') : ''),
      cell('FCM', badge(a.fcm || { status: 'unconfigured' }, { 'data-platform': 'fcm' })),
      cell('Environment', a.environment === 'sandbox' ? 'Sandbox' : 'Production'),
      cell('Push', el('span', { class: `pill ${a.enabled ? 'pill-on' : 'pill-off'}` }, a.enabled ? 'On' : 'Off')));
  }

  // loadPage fetches the first page of the filter (reset) or the next one.
  async function loadPage(reset) {
    const q = query(filter);
    const me = ++seq;
    const cursor = reset ? '' : next;
    const { data } = await api('GET', `/v1/apps?limit=${PAGE}${q ? `&${q}` : ''}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    if (me !== seq) return; // a newer filter won
    const body = $('#fleet-rows');
    if (reset) { body.replaceChildren(); shown = 0; }
    body.append(...data.apps.map(rowOf));
    shown += data.apps.length;
    next = data.next_cursor || '';
    loaded = q;
    $('#more').hidden = !next;
    $('#fleet-shown').textContent = data.total ? `Showing ${shown} of ${data.total} app${data.total === 1 ? '' : 's'}.` : '';
    $('#fleet-table').dataset.total = String(data.total);
    say(result(), data.total ? '' : (q ? 'No app matches this filter.' : 'No apps yet. Register one.'), 'info');
  }

  // showFleet renders #/apps with the filter in params; the summary is
  // read again when asked (first view, refresh) and the list when the
  // filter changed.
  async function showFleet(params, { refresh } = {}) {
    $('#f-q').value = params.get('q') || '';
    setSelect($('#f-status'), params.get('status') || '');
    $('#f-platform').value = params.get('platform') || '';
    $('#f-sort').value = params.get('sort') || DEFAULT_SORT;
    readControls();
    for (const b of $$('#attention [data-filter-status]')) b.setAttribute('aria-pressed', String(b.dataset.filterStatus === filter.status));
    const jobs = [];
    if (refresh || !$('#attention').childElementCount) jobs.push(loadSummary());
    if (refresh || query(filter) !== loaded) jobs.push(loadPage(true));
    await Promise.all(jobs);
  }

  // A change of a control is a new fragment (so Back goes to the last
  // view); typing in the search box replaces it, debounced.
  let typing = 0;
  $('#f-q').addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(M.guard(async () => {
      readControls();
      history.replaceState(null, '', fragment(filter));
      await loadPage(true);
    }, result), 250);
  });
  $('#fleet-filter').addEventListener('submit', (ev) => { ev.preventDefault(); readControls(); location.hash = fragment(filter); });
  for (const id of ['#f-status', '#f-platform', '#f-sort']) {
    $(id).addEventListener('change', () => { readControls(); location.hash = fragment(filter); });
  }
  $('#attention').addEventListener('click', (ev) => {
    const b = ev.target.closest('[data-filter-status]');
    if (!b) return;
    readControls();
    filter.status = b.dataset.filterStatus;
    if (filter.status && filter.sort === 'name') filter.sort = DEFAULT_SORT;
    location.hash = fragment(filter);
  });
  $('#more').addEventListener('click', M.guard(() => loadPage(false), result));
  $('#reload').addEventListener('click', M.guard(async () => {
    await showFleet(M.route().params, { refresh: true });
    say(result(), 'Refreshed.', 'info');
  }, result));

  M.showFleet = showFleet;
  M.fleetStale = () => { loaded = null; $('#attention').replaceChildren(); };
})();
