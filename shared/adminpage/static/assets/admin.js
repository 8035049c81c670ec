// admin.js: the behaviour of the mobilepush admin page (package adminpage).
//
// Plain JavaScript, no framework, no build step. It talks to the HTTP API
// on the same origin (docs/ARCHITECTURE.md, HTTP API) with the bearer token the administrator
// enters once; the token stays in sessionStorage (this tab only). Every
// value from the server is put into the page with textContent, never as
// HTML. The inputs live in index.html; this file only reads them, shows
// and hides groups of them, and renders results and the app list.
'use strict';

(() => {
  const TOKEN_KEY = 'mobilepush.token';
  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

  // el builds an element: el('p', {class: 'x'}, 'text', child, ...).
  function el(tag, props, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v == null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k.startsWith('data-') || k.startsWith('aria-') || k === 'role') e.setAttribute(k, v);
      else e[k] = v;
    }
    for (const c of children.flat()) {
      if (c != null && c !== false && c !== '') e.append(c instanceof Node ? c : String(c));
    }
    return e;
  }

  const PLATFORM = { apns: 'Apple (APNs)', fcm: 'Google (FCM)' };
  const KIND = { apns_p12: 'Certificate (.p12)', apns_p8: 'Auth key (.p8)', fcm_json: 'Service-account key' };
  const day = (t) => (t ? String(t).slice(0, 10) : '');
  const days = (n) => `${n} day${Math.abs(n) === 1 ? '' : 's'}`;

  // ---- API ---------------------------------------------------------------

  let token = sessionStorage.getItem(TOKEN_KEY) || '';

  // APIError is a failed call: status, the API's error code, message and details.
  class APIError extends Error {
    constructor(status, body) {
      const e = (body && body.error) || {};
      super(e.message || `The server answered HTTP ${status}.`);
      this.status = status;
      this.code = e.code || '';
      this.details = e.details || {};
    }
  }

  // api calls the API; body is FormData (multipart) or an object (JSON).
  // It resolves to {data, etag} and rejects with an APIError.
  async function api(method, path, { body, etag } = {}) {
    const headers = { Authorization: `Bearer ${token}` };
    if (etag) headers['If-Match'] = etag;
    let payload = body;
    if (body && !(body instanceof FormData)) {
      headers['Content-Type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, { method, headers, body: payload, cache: 'no-store' });
    } catch {
      throw new APIError(0, { error: { code: 'network', message: 'The server cannot be reached. Is mobilepush serve running?' } });
    }
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = null; }
    if (res.status === 401) signOut('The server refused the token. Enter a valid one.');
    if (!res.ok) throw new APIError(res.status, data);
    return { data, etag: res.headers.get('ETag') };
  }

  // etagOf is the entity tag of the app version the page shows, as the
  // API writes it: a write based on what the administrator saw fails with
  // 412 when someone changed the app meanwhile, instead of overwriting.
  const etagOf = (app) => `"${app.version}"`;

  // guard runs an async event handler and shows any failure in region,
  // so no promise rejection goes unhandled.
  const guard = (fn, region) => async (ev) => {
    try {
      await fn(ev);
    } catch (err) {
      if (err instanceof APIError && err.status === 401) return;
      say(region(), err.message || String(err), 'error');
    }
  };

  function say(region, text, tone) {
    region.replaceChildren(text ? el('p', { class: `msg msg-${tone || 'info'}` }, text) : '');
  }

  // ---- Token -------------------------------------------------------------

  function signOut(message) {
    token = '';
    sessionStorage.removeItem(TOKEN_KEY);
    $('#workspace').hidden = true;
    $('#session').hidden = true;
    $('#token-section').hidden = false;
    $('#token-error').textContent = message || '';
    $('#token-input').setAttribute('aria-invalid', message ? 'true' : 'false');
    $('#token-input').focus();
  }

  function showWorkspace() {
    $('#token-section').hidden = true;
    $('#workspace').hidden = false;
    $('#session').hidden = false;
  }

  $('#token-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const value = $('#token-input').value.trim();
    if (!value) return signOut('Enter the token that mobilepush token printed.');
    token = value;
    try {
      await loadApps();
    } catch (err) {
      if (!(err instanceof APIError && err.status === 401)) signOut(err.message);
      return; // refused: signOut has said so
    }
    sessionStorage.setItem(TOKEN_KEY, token);
    $('#token-form').reset();
    showWorkspace();
    $('#app-name').focus();
  });

  $('#change-token').addEventListener('click', () => signOut(''));

  // ---- Credential inputs (shared by the register and replace forms) -----

  const input = (root, field) => $(`[data-field="${field}"]`, root);

  // syncKind shows the inputs of the chosen Apple credential type.
  function syncKind(root) {
    const kind = ($('[data-kind]:checked', root) || {}).value || 'p12';
    for (const g of $$('[data-kind-group]', root)) g.hidden = g.dataset.kindGroup !== kind;
  }

  // addAPNs appends the Apple parts to fd. It returns false when nothing
  // Apple was given, true when parts were added, and throws a FieldError
  // when the parts are incomplete.
  function addAPNs(root, fd) {
    const kind = $('[data-kind]:checked', root).value;
    const bundle = input(root, 'apns.bundle_id').value.trim();
    const fileField = kind === 'p12' ? 'apns.p12' : 'apns.p8';
    const file = input(root, fileField).files[0];
    const keyID = input(root, 'apns.key_id').value.trim();
    const teamID = input(root, 'apns.team_id').value.trim();
    if (!file) {
      if (bundle || (kind === 'p8' && (keyID || teamID))) {
        throw new FieldError(fileField, kind === 'p12'
          ? 'Choose the .p12 file exported from Keychain Access (or switch to Auth key (.p8)).'
          : 'Choose the .p8 file downloaded from the Apple Developer portal.');
      }
      return false;
    }
    if (!bundle) throw new FieldError('apns.bundle_id', 'Enter the bundle identifier of the app, such as com.example.app.');
    fd.append('apns.bundle_id', bundle);
    if (kind === 'p12') {
      fd.append('apns.p12', file);
      fd.append('apns.password', input(root, 'apns.password').value); // empty is a password too
    } else {
      fd.append('apns.p8', file);
      fd.append('apns.key_id', keyID);
      fd.append('apns.team_id', teamID);
    }
    return true;
  }

  // addFCM appends the service-account key (a chosen file wins over pasted text).
  function addFCM(root, fd) {
    const file = input(root, 'fcm.file').files[0];
    const text = input(root, 'fcm.text').value.trim();
    if (file) fd.append('fcm.service_account_json', file);
    else if (text) fd.append('fcm.service_account_json', text);
    return Boolean(file || text);
  }

  // FieldError is a problem the page finds before sending.
  class FieldError extends Error {
    constructor(field, message) { super(message); this.field = field; }
  }

  // ---- Reports: each check next to its field -----------------------------

  // FIELD_OF maps (report kind, check name) to the field the check is about.
  const FIELD_OF = {
    apns_p12: {
      size: 'apns.p12', password: 'apns.password', identity: 'apns.p12', key_type: 'apns.p12',
      apple_push: 'apns.p12', validity: 'apns.p12', bundle_id: 'apns.bundle_id', environment: 'environment',
    },
    apns_p8: {
      size: 'apns.p8', pem: 'apns.p8', private_key: 'apns.p8', key_type: 'apns.p8',
      key_id: 'apns.key_id', team_id: 'apns.team_id',
    },
  };
  const LIVE_FIELD = { topic_not_allowed: 'apns.bundle_id', environment_rejected: 'environment' };

  function fieldOfCheck(kind, check) {
    if (kind === 'fcm_json') return 'fcm';
    return (FIELD_OF[kind] || {})[check] || 'apns';
  }
  function fieldOfLive(platform, kind, code) {
    if (platform === 'fcm') return 'fcm';
    return LIVE_FIELD[code] || (kind === 'apns_p8' ? 'apns.p8' : 'apns.p12');
  }

  function clearHints(root) {
    for (const h of $$('[data-hint]', root)) { h.hidden = true; h.replaceChildren(); }
    for (const i of $$('[aria-invalid]', root)) i.removeAttribute('aria-invalid');
    for (const d of $$('details.howto[data-auto-open]', root)) { d.open = false; d.removeAttribute('data-auto-open'); }
  }

  // hint puts a problem next to its field (or the platform's, when the
  // field is not in this form), marks the input invalid and returns it.
  function hint(root, field, node) {
    let slot = $(`[data-hint="${field}"]`, root);
    if (!slot) {
      field = field.startsWith('fcm') ? 'fcm' : field.startsWith('apns') || field === 'environment' ? 'apns' : '';
      slot = field && $(`[data-hint="${field}"]`, root);
      if (!slot) return null;
    }
    slot.append(el('span', { class: 'hint-item' }, node));
    slot.hidden = false;
    // The FCM key comes from the file input or the pasted text: mark the one used.
    const pasted = input(root, 'fcm.text') && input(root, 'fcm.text').value.trim();
    const fcmInput = pasted && !input(root, 'fcm.file').files.length ? 'fcm.text' : 'fcm.file';
    const inputs = [input(root, field === 'fcm' ? fcmInput : field)];
    const help = slot.parentElement && $(':scope > details.howto', slot.parentElement);
    if (help && field !== 'apns.password' && !help.open) { help.open = true; help.setAttribute('data-auto-open', ''); }
    for (const i of inputs) if (i) i.setAttribute('aria-invalid', 'true');
    return inputs[0];
  }

  // showReport lists every check of a platform's report (and its live
  // result), and puts each failure next to its field. It returns the
  // first input with a problem.
  function showReport(root, region, platform, report, live) {
    let first = null;
    const items = [];
    const kind = (report && report.kind) || '';
    for (const c of (report && report.checks) || []) {
      items.push(el('li', { class: c.ok ? 'ok' : 'bad' },
        el('span', { class: 'mark', 'aria-hidden': 'true' }, c.ok ? '✓' : '✕'),
        el('span', { class: 'sr-only' }, c.ok ? 'passed: ' : 'failed: '),
        el('b', {}, c.name.replace(/_/g, ' ')), ' — ', c.message,
        c.ok ? '' : el('code', {}, c.code)));
      if (!c.ok) {
        const i = hint(root, fieldOfCheck(kind, c.name), [el('b', {}, 'Fix: '), c.message, ' ', el('code', {}, c.code)]);
        first = first || i;
      }
    }
    for (const w of (report && report.warnings) || []) {
      items.push(el('li', { class: 'warn' }, el('span', { class: 'mark', 'aria-hidden': 'true' }, '!'),
        el('span', { class: 'sr-only' }, 'warning: '), w.message, el('code', {}, w.code)));
    }
    if (live && live.code) {
      const rejected = !['live_ok', 'unreachable'].includes(live.code);
      const reason = live.provider_reason ? ` ${platform === 'apns' ? 'Apple' : 'Google'} said: “${live.provider_reason}”.` : '';
      items.push(el('li', { class: rejected ? 'bad' : live.code === 'live_ok' ? 'ok' : 'warn' },
        el('span', { class: 'mark', 'aria-hidden': 'true' }, rejected ? '✕' : live.code === 'live_ok' ? '✓' : '!'),
        el('b', {}, 'live check'), ' — ', live.message, reason, el('code', {}, live.code)));
      if (rejected) {
        const i = hint(root, fieldOfLive(platform, kind, live.code),
          [el('b', {}, `${platform === 'apns' ? 'Apple' : 'Google'} rejected it: `), live.message, reason, ' ', el('code', {}, live.code)]);
        first = first || i;
      }
    }
    if (items.length) {
      region.append(el('h3', { class: 'checks-title' }, `${PLATFORM[platform]}${kind ? ` — ${KIND[kind] || kind}` : ''}`),
        el('ul', { class: 'checks' }, items));
    }
    return first;
  }

  // showFailure renders a failed upload in root: a 422 report, a 400 that
  // names a field, a page-side FieldError, or any other error.
  function showFailure(root, region, err, others) {
    let first = null;
    if (err instanceof FieldError) {
      first = hint(root, err.field, err.message);
      say(region, 'Not sent: see the highlighted field.', 'error');
    } else if (err.status === 422 && err.details.platform) {
      const p = err.details.platform;
      say(region, `Not saved: the ${PLATFORM[p]} credential failed a check. Nothing was stored; fix it and save again.`, 'error');
      first = showReport(root, region, p, err.details.report, err.details.live);
      const unchecked = others.filter((o) => o !== p);
      if (unchecked.length) {
        region.append(el('p', { class: 'muted' }, `The ${unchecked.map((o) => PLATFORM[o]).join(' and ')} credential was not checked yet. “Check files without saving” checks everything at once.`));
      }
    } else if (err.status === 400) {
      // The API names the field in details.field, or at the start of the message.
      let named = err.details.field || (/^([a-z0-9_]+(\.[a-z0-9_]+)*)\b/.exec(err.message) || [])[1] || '';
      named = named.startsWith('fcm.') ? 'fcm' : named.replace(/_base64$/, '');
      say(region, err.message, 'error');
      first = named && $(`[data-hint="${named}"]`, root) ? hint(root, named, err.message) : null;
    } else {
      say(region, err.message, 'error');
    }
    if (first && !first.closest('[hidden]')) first.focus();
  }

  // ---- Register ----------------------------------------------------------

  const form = $('#app-form');
  const formResult = $('#form-result');

  for (const root of [form, $('#rotate-form')]) {
    for (const r of $$('[data-kind]', root)) r.addEventListener('change', () => syncKind(root));
  }
  form.addEventListener('reset', () => {
    clearHints(form);
    say(formResult, '');
    setTimeout(() => syncKind(form), 0);
  });

  // credentialForm collects the credential parts of root into fd.
  function credentialForm(root, fd) {
    const given = [];
    if (addAPNs(root, fd)) given.push('apns');
    if (addFCM(root, fd)) given.push('fcm');
    return given;
  }

  form.addEventListener('submit', guard(async (ev) => {
    ev.preventDefault();
    clearHints(form);
    say(formResult, 'Checking…');
    let given = [];
    try {
      const name = $('#app-name').value.trim();
      if (!name) throw new FieldError('name', 'Enter the app name.');
      const fd = new FormData();
      fd.append('name', name);
      fd.append('description', $('#app-description').value.trim());
      fd.append('enabled', $('#app-enabled').checked ? 'true' : 'false');
      fd.append('environment', $('#app-production').checked ? 'production' : 'sandbox');
      given = credentialForm(form, fd);
      const { data } = await api('POST', '/v1/apps', { body: fd });
      form.reset();
      say(formResult, `Saved “${data.name}”. ${statusLine(data)}`, 'ok');
      for (const p of ['apns', 'fcm']) {
        if (data[p] && data[p].status !== 'unconfigured') {
          showReport(form, formResult, p, { warnings: data[p].warnings, kind: data[p].kind }, data[p].live);
        }
      }
      await loadApps(data.id);
    } catch (err) {
      if (err instanceof APIError && err.status === 401) return;
      showFailure(form, formResult, err, given);
    }
  }, () => formResult));

  $('#check-only').addEventListener('click', guard(async () => {
    clearHints(form);
    say(formResult, 'Checking…');
    try {
      const fd = new FormData();
      fd.append('environment', $('#app-production').checked ? 'production' : 'sandbox');
      const given = credentialForm(form, fd);
      if (!given.length) throw new FieldError('apns.p12', 'Choose a credential file to check.');
      const { data } = await api('POST', '/v1/validate', { body: fd });
      say(formResult, data.ok ? 'Every check passed. Nothing was saved.' : 'Some checks failed (nothing was saved):', data.ok ? 'ok' : 'error');
      let first = null;
      for (const p of given) {
        if (data[p]) first = showReport(form, formResult, p, data[p].report, data[p].live) || first;
      }
      if (first) first.focus();
    } catch (err) {
      if (err instanceof APIError && err.status === 401) return;
      showFailure(form, formResult, err, []);
    }
  }, () => formResult));

  // ---- App list ----------------------------------------------------------

  const apps = new Map();
  const appsResult = $('#apps-result');

  // loadApps reads every page of the list and renders it.
  async function loadApps(highlight) {
    const all = [];
    let cursor = '';
    for (let i = 0; i < 50; i++) {
      const { data } = await api('GET', `/v1/apps?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      all.push(...data.apps);
      cursor = data.next_cursor;
      if (!cursor) break;
    }
    apps.clear();
    for (const a of all) apps.set(a.id, a);
    renderApps(all, highlight);
    syncMessageApps(all);
  }

  function statusLine(app) {
    return ['apns', 'fcm'].filter((p) => app[p] && app[p].status !== 'unconfigured')
      .map((p) => `${PLATFORM[p]}: ${badgeOf(app[p]).text}.`).join(' ');
  }

  // badgeOf is the status of one platform as a tone, a symbol and a text
  // that reads on its own (the colour only repeats it).
  function badgeOf(p) {
    const d = p.days_left;
    switch (p.status) {
      case 'ok': return { tone: 'ok', mark: '✓', text: d != null ? `OK · ${days(d)} left` : 'OK' };
      case 'expiring': return { tone: 'warn', mark: '!', text: d != null ? `Expiring in ${days(d)}` : 'Expiring' };
      case 'expired': return { tone: 'bad', mark: '✕', text: p.not_after ? `Expired on ${day(p.not_after)}` : 'Expired' };
      case 'invalid': return { tone: 'bad', mark: '✕', text: 'Invalid' };
      case 'suspended': return { tone: 'bad', mark: '‖', text: 'Suspended' };
      case 'unconfigured': return { tone: 'none', mark: '–', text: 'Not configured' };
      default: return { tone: 'none', mark: '?', text: p.status };
    }
  }

  function facts(p) {
    const f = [KIND[p.kind] || p.kind];
    if (p.bundle_id) f.push(`bundle ${p.bundle_id}`);
    if (p.key_id) f.push(`key ${p.key_id}`);
    if (p.team_id) f.push(`team ${p.team_id}`);
    if (p.project_id) f.push(`project ${p.project_id}`);
    if (p.client_email) f.push(p.client_email);
    if (p.environment) f.push(p.environment === 'both' ? 'sandbox + production' : p.environment);
    if (p.not_after) f.push(`expires ${day(p.not_after)}`);
    if (p.fingerprint_sha256) f.push(`SHA-256 ${p.fingerprint_sha256.slice(0, 16)}…`);
    return f.join(' · ');
  }

  const action = (label, act, app, extra) => el('button', {
    type: 'button', class: `btn btn-small${act === 'delete' ? ' btn-danger' : ''}`, 'data-action': act,
    'data-id': app.id, 'data-platform': extra || null, 'aria-label': `${label} — ${app.name}${extra ? ` ${PLATFORM[extra]}` : ''}`,
  }, label);

  function platformRow(app, p) {
    const s = app[p] || { status: 'unconfigured' };
    const b = badgeOf(s);
    const notes = [];
    if (s.status !== 'ok' && s.status !== 'unconfigured' && (s.reason || s.message)) {
      notes.push(el('p', { class: 'reason' }, s.message || '', s.reason ? el('code', {}, s.reason) : ''));
    }
    for (const w of s.warnings || []) {
      if (w.code !== s.reason) notes.push(el('p', { class: 'reason' }, w.message, el('code', {}, w.code)));
    }
    return el('div', { class: 'platform-row', 'data-platform': p },
      el('div', { class: 'platform-main' },
        el('span', { class: 'platform-name' }, PLATFORM[p]),
        el('span', { class: `badge badge-${b.tone}`, 'data-status': s.status },
          el('span', { class: 'mark', 'aria-hidden': 'true' }, b.mark), b.text)),
      s.status !== 'unconfigured' ? el('p', { class: 'facts' }, facts(s)) : '',
      notes,
      el('div', { class: 'row-actions' },
        action(s.status === 'unconfigured' ? 'Add credential' : 'Replace', 'rotate', app, p),
        s.rollback_available ? action('Roll back', 'rollback', app, p) : ''));
  }

  function renderApps(list, highlight) {
    const box = $('#apps');
    box.replaceChildren();
    if (!list.length) {
      box.append(el('p', { class: 'empty' }, 'No apps yet. Register one with the form above.'));
      return;
    }
    for (const a of list) {
      const card = el('article', { class: `app${a.id === highlight ? ' app-new' : ''}`, 'data-app': a.id, 'aria-labelledby': `app-${a.id}` },
        el('div', { class: 'app-head' },
          el('div', {},
            el('h3', { id: `app-${a.id}` }, a.name),
            el('p', { class: 'muted small' }, `${a.id} · ${a.environment === 'sandbox' ? 'Sandbox' : 'Production'} · version ${a.version}`)),
          el('span', { class: `pill ${a.enabled ? 'pill-on' : 'pill-off'}` }, a.enabled ? 'Push enabled' : 'Push disabled')),
        a.description ? el('p', { class: 'desc' }, a.description) : '',
        el('div', { class: 'platforms' }, platformRow(a, 'apns'), platformRow(a, 'fcm')),
        el('div', { class: 'app-actions' },
          action('Re-validate', 'validate', a),
          action('Send test push', 'test-push', a),
          action('Audit trail', 'audit', a),
          action(a.enabled ? 'Disable' : 'Enable', 'toggle', a),
          action('Delete', 'delete', a)));
      box.append(card);
    }
  }

  // Actions on an app, by data-action.
  const actions = {
    async validate(app) {
      say(appsResult, `Re-validating “${app.name}”…`);
      const { data } = await api('POST', `/v1/apps/${app.id}/validate`);
      await loadApps();
      const lines = data.validations.map((v) => `${PLATFORM[v.platform]}: ${v.status.state}${v.live && v.live.message ? ` — ${v.live.message}` : ''}`);
      say(appsResult, `Re-validated “${app.name}”. ${lines.join(' ') || 'No credential to check.'}`, 'ok');
    },
    async toggle(app) {
      await api('PATCH', `/v1/apps/${app.id}`, { body: { enabled: !app.enabled }, etag: etagOf(app) });
      await loadApps();
      say(appsResult, `Push ${app.enabled ? 'disabled' : 'enabled'} for “${app.name}”.`, 'ok');
    },
    async delete(app) {
      // eslint-disable-next-line no-alert
      if (!window.confirm(`Delete “${app.name}” and its stored credentials? This cannot be undone.`)) return;
      await api('DELETE', `/v1/apps/${app.id}`, { etag: etagOf(app) });
      await loadApps();
      say(appsResult, `Deleted “${app.name}”.`, 'ok');
    },
    async rollback(app, p) {
      await api('POST', `/v1/apps/${app.id}/${p}/rollback`, { etag: etagOf(app) });
      await loadApps();
      say(appsResult, `Rolled back the ${PLATFORM[p]} credential of “${app.name}” to the previous one.`, 'ok');
    },
    rotate(app, p) { openRotate(app, p); },
    'test-push': (app) => openTestPush(app),
    audit: (app) => openAudit(app),
  };

  $('#apps').addEventListener('click', guard(async (ev) => {
    const btn = ev.target.closest('button[data-action]');
    if (!btn) return;
    const app = apps.get(btn.dataset.id);
    if (!app) return;
    try {
      btn.disabled = true;
      await actions[btn.dataset.action](app, btn.dataset.platform);
    } catch (err) {
      if (err instanceof APIError && err.status === 412) {
        await loadApps();
        throw new Error(`“${app.name}” was changed meanwhile; the list now shows the current state. Try again.`);
      }
      throw err;
    } finally {
      btn.disabled = false;
    }
  }, () => appsResult));

  $('#reload').addEventListener('click', guard(async () => {
    await loadApps();
    say(appsResult, 'List refreshed.');
  }, () => appsResult));

  // ---- Dialogs -----------------------------------------------------------

  for (const b of $$('[data-close]')) b.addEventListener('click', () => b.closest('dialog').close());

  const rotateForm = $('#rotate-form');
  const rotateResult = $('#rotate-result');
  let rotating = null; // {app, platform}

  function openRotate(app, p) {
    rotating = { app, platform: p };
    rotateForm.reset();
    clearHints(rotateForm);
    say(rotateResult, '');
    const cur = app[p] || {};
    $('#rotate-title').textContent = `${cur.status === 'unconfigured' ? 'Add' : 'Replace'} the ${PLATFORM[p]} credential of “${app.name}”`;
    for (const fs of $$('fieldset[data-platform]', rotateForm)) fs.hidden = fs.dataset.platform !== p;
    if (p === 'apns') {
      input(rotateForm, 'apns.bundle_id').value = cur.bundle_id || '';
      $(cur.kind === 'apns_p8' ? '#r-apns-kind-p8' : '#r-apns-kind-p12').checked = true;
      syncKind(rotateForm);
    }
    $('#rotate-dialog').showModal();
  }

  rotateForm.addEventListener('submit', guard(async (ev) => {
    ev.preventDefault();
    const { app, platform } = rotating;
    clearHints(rotateForm);
    say(rotateResult, 'Checking…');
    try {
      const fd = new FormData();
      const given = platform === 'apns' ? addAPNs(rotateForm, fd) : addFCM(rotateForm, fd);
      if (!given) throw new FieldError(platform === 'apns' ? 'apns.p12' : 'fcm', 'Choose the new credential file.');
      const { data } = await api('PUT', `/v1/apps/${app.id}/${platform}`, { body: fd, etag: etagOf(app) });
      $('#rotate-dialog').close();
      await loadApps(app.id);
      say(appsResult, `Replaced the ${PLATFORM[platform]} credential of “${app.name}”. ${statusLine(data)}`, 'ok');
    } catch (err) {
      if (err instanceof APIError && err.status === 412) {
        await loadApps();
        return say(rotateResult, 'The app was changed meanwhile; close this dialog and try again on the refreshed list.', 'error');
      }
      if (err instanceof APIError && err.status === 401) return;
      showFailure(rotateForm, rotateResult, err, [platform]);
    }
  }, () => rotateResult));

  const pushForm = $('#push-form');
  const pushResult = $('#push-result');
  let pushing = null;

  function openTestPush(app) {
    pushing = app;
    say(pushResult, '');
    $('#push-title').textContent = `Send a test push — “${app.name}”`;
    const sel = $('#push-platform');
    for (const o of sel.options) o.disabled = !app[o.value] || app[o.value].status === 'unconfigured';
    const firstOK = Array.from(sel.options).find((o) => !o.disabled);
    if (firstOK) sel.value = firstOK.value;
    $('#push-dialog').showModal();
    $('#push-token').focus();
  }

  pushForm.addEventListener('submit', guard(async (ev) => {
    ev.preventDefault();
    const tokenInput = $('#push-token');
    if (!tokenInput.value.trim()) {
      tokenInput.setAttribute('aria-invalid', 'true');
      tokenInput.focus();
      return say(pushResult, 'Enter a device token.', 'error');
    }
    tokenInput.removeAttribute('aria-invalid');
    say(pushResult, 'Sending…');
    const body = {
      platform: $('#push-platform').value, token: tokenInput.value.trim(),
      title: $('#push-title-input').value, body: $('#push-body').value,
    };
    const { data } = await api('POST', `/v1/apps/${pushing.id}/test-push`, { body });
    const who = data.platform === 'apns' ? 'Apple' : 'Google';
    say(pushResult, data.delivered
      ? `Delivered: ${who} accepted it (HTTP ${data.status}${data.message_id ? `, id ${data.message_id}` : ''}).`
      : `Not delivered: ${who} answered HTTP ${data.status}${data.reason ? ` ${data.reason}` : ''}.`, data.delivered ? 'ok' : 'error');
  }, () => pushResult));

  async function openAudit(app) {
    const body = $('#audit-table tbody');
    body.replaceChildren();
    $('#audit-title').textContent = `Audit trail — “${app.name}”`;
    say($('#audit-result'), 'Loading…');
    $('#audit-dialog').showModal();
    let data;
    try {
      ({ data } = await api('GET', `/v1/apps/${app.id}/audit?limit=100`));
    } catch (err) {
      return say($('#audit-result'), err.message, 'error');
    }
    say($('#audit-result'), data.events.length ? '' : 'No events.');
    const pair = (a, b) => (a || b ? `${a || '—'} → ${b || '—'}` : '');
    for (const e of data.events) {
      body.append(el('tr', {},
        el('td', {}, String(e.at).replace('T', ' ').slice(0, 19)),
        el('td', {}, e.action.replace(/_/g, ' ')),
        el('td', {}, e.platform ? PLATFORM[e.platform] : ''),
        el('td', {}, e.result || '', e.message ? el('span', { class: 'muted small block' }, e.message) : ''),
        el('td', { class: 'mono' }, pair((e.old_fingerprint || '').slice(0, 12), (e.new_fingerprint || '').slice(0, 12))),
        el('td', {}, pair(day(e.old_not_after), day(e.new_not_after))),
        el('td', { class: 'mono' }, e.actor || '')));
    }
  }

  // ---- Messages: enqueue a push and watch its outcome counts -----------

  const msgForm = $('#message-form');
  const msgResult = $('#message-result');
  const STATE = { queued: ['Queued', 'none'], sending: ['Sending', 'warn'], done: ['Done', 'ok'] };
  let watching = 0; // the poll of the latest message; an older one stops

  // syncMessageApps offers the registered apps in the message form.
  function syncMessageApps(list) {
    const sel = $('#msg-app');
    const keep = sel.value;
    sel.replaceChildren(...list.map((a) => el('option', { value: a.id }, `${a.name}${a.enabled ? '' : ' (push disabled)'}`)));
    if (list.some((a) => a.id === keep)) sel.value = keep;
    $('#msg-send').disabled = !list.length;
  }

  function clearMessageHints() {
    for (const h of $$('[data-hint]', msgForm)) { h.hidden = true; h.replaceChildren(); }
    for (const i of $$('[aria-invalid]', msgForm)) i.removeAttribute('aria-invalid');
  }

  function messageHint(field, text) {
    const slot = $(`[data-hint="${field}"]`, msgForm);
    if (!slot) return;
    slot.replaceChildren(text);
    slot.hidden = false;
    const target = { tokens: '#msg-tokens', link: '#msg-link', app_id: '#msg-app' }[field];
    if (target) { $(target).setAttribute('aria-invalid', 'true'); $(target).focus(); }
  }

  function showMessageStatus(st) {
    $('#message-status').hidden = false;
    $('#msg-id').textContent = st.message_id;
    const [label, tone] = STATE[st.state] || [st.state, 'none'];
    const badge = $('#msg-state');
    badge.textContent = label;
    badge.className = `badge badge-${tone}`;
    badge.dataset.state = st.state;
    for (const dd of $$('#msg-counts [data-count]')) dd.textContent = String((st.counts || {})[dd.dataset.count] || 0);
  }

  // watchMessage polls the message until it is done (or another starts).
  async function watchMessage(id) {
    const me = ++watching;
    for (let delay = 300; me === watching; delay = Math.min(delay * 1.5, 3000)) {
      const { data } = await api('GET', `/v1/messages/${encodeURIComponent(id)}`);
      if (me !== watching) return;
      showMessageStatus(data);
      if (data.state === 'done') {
        const c = data.counts;
        const all = c.delivered + c.invalid_token + c.retry + c.credential_fault + c.rejected;
        say(msgResult, `Done: ${c.delivered} of ${all} delivered.`, c.delivered === all ? 'ok' : 'info');
        return;
      }
      await new Promise((r) => setTimeout(r, delay));
    }
  }

  msgForm.addEventListener('submit', guard(async (ev) => {
    ev.preventDefault();
    clearMessageHints();
    const platform = $('#msg-platform').value;
    const tokens = $('#msg-tokens').value.split(/\s+/).map((t) => t.trim()).filter(Boolean);
    if (!$('#msg-app').value) return messageHint('app_id', 'Register an app first.');
    if (!tokens.length) return messageHint('tokens', 'Enter at least one device token.');
    if (tokens.length > 1000) return messageHint('tokens', `${tokens.length} tokens: at most 1000 per message.`);
    const body = {
      version: 1, app_id: $('#msg-app').value, tokens: { [platform]: tokens },
      notification: { title: $('#msg-title').value.trim(), body: $('#msg-body').value.trim() },
    };
    const link = $('#msg-link').value.trim();
    if (link) body.link = link;
    say(msgResult, 'Enqueueing…');
    let data;
    try {
      ({ data } = await api('POST', '/v1/messages', { body }));
    } catch (err) {
      if (err instanceof APIError && err.status === 400) {
        // The API names the field first: "tokens.apns[0]: …", "link: …".
        const field = (/^([a-z_]+)/.exec(err.message) || [])[1];
        if (field && $(`[data-hint="${field}"]`, msgForm)) messageHint(field, err.message);
      }
      throw err;
    }
    say(msgResult, `Queued message ${data.message_id} (${tokens.length} token${tokens.length === 1 ? '' : 's'}).`, 'ok');
    showMessageStatus({ message_id: data.message_id, state: 'queued', counts: {} });
    await watchMessage(data.message_id);
  }, () => msgResult));

  // ---- Start -------------------------------------------------------------

  syncKind(form);
  if (token) {
    showWorkspace();
    loadApps().catch((err) => say(appsResult, err.message, 'error'));
  } else {
    signOut('');
  }
})();
