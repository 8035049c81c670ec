// common.js: what every part of the mobilepush admin page shares
// (package adminpage): building elements, calling the API with the
// bearer token, the credential inputs and how a check's report is put
// next to its field, the status badges and the fragment routes.
//
// Plain JavaScript, no framework, no build step. Every value from the
// server is put into the page with textContent, never as HTML. The parts
// of the page (fleet.js, detail.js, admin.js) find these on
// window.mobilepush.
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
  // KIND names a stored credential: apns_p12 is a certificate with its
  // key, from a .p12, a PEM bundle or Apple's .cer with a signing request's key.
  const KIND = { apns_p12: 'Certificate', apns_p8: 'Auth key (.p8)', fcm_json: 'Service-account key' };
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
  // It resolves to {data, etag} and rejects with an APIError. With blob
  // set, data is the body of a successful answer as a Blob (a download).
  async function api(method, path, { body, etag, blob } = {}) {
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
    if (blob && res.ok) return { data: await res.blob(), etag: res.headers.get('ETag') };
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = null; }
    if (res.status === 401 && window.mobilepush.onUnauthorized) window.mobilepush.onUnauthorized('The server refused the token. Enter a valid one.');
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
      size: 'apns.p12', password: 'apns.password', identity: 'apns.p12', key_type: 'apns.p12', certificate: 'apns.p12', key: 'apns.p12',
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
  // A form that uploads the certificate as another file part (the .cer of
  // a signing request) names it in data-apns-file: the checks of a .p12
  // about the file are about that one.
  function hint(root, field, node) {
    if (field === 'apns.p12' && root.dataset && root.dataset.apnsFile) field = root.dataset.apnsFile;
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
      // A form may name what it uploads (data-kind-label: the .cer of a
      // signing request is checked as a .p12 but is not one).
      const what = (platform === 'apns' && root.dataset && root.dataset.kindLabel) || KIND[kind] || kind;
      region.append(el('h3', { class: 'checks-title' }, `${PLATFORM[platform]}${kind ? ` — ${what}` : ''}`),
        el('ul', { class: 'checks' }, items));
    }
    return first;
  }

  // verdictOK reports whether one platform's check passed (an unreachable
  // provider is a warning, not a failure).
  const verdictOK = (v) => Boolean(v && v.report && v.report.ok && (!v.live || ['live_ok', 'unreachable', ''].includes(v.live.code || '')));

  // showFailure renders a failed upload in root: a 422 with the verdict
  // of every uploaded platform next to its fields, a 400 that names a
  // field, a page-side FieldError, or any other error.
  function showFailure(root, region, err) {
    let first = null;
    if (err instanceof FieldError) {
      first = hint(root, err.field, err.message);
      say(region, 'Not sent: see the highlighted field.', 'error');
    } else if (err.status === 422 && err.details.platform) {
      const reports = err.details.reports || { [err.details.platform]: { report: err.details.report, live: err.details.live } };
      const failed = ['apns', 'fcm'].filter((p) => reports[p] && !verdictOK(reports[p]));
      const many = failed.length > 1;
      say(region, `Not saved: the ${failed.map((p) => PLATFORM[p]).join(' and ')} credential${many ? 's' : ''} failed a check. Nothing was stored; fix ${many ? 'them' : 'it'} and save again.`, 'error');
      for (const p of ['apns', 'fcm']) {
        if (reports[p]) first = showReport(root, region, p, reports[p].report, reports[p].live) || first;
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

  // ---- Status badges -----------------------------------------------------

  // STATE_TEXT names each state as the attention bar and filters do.
  const STATE_TEXT = {
    expired: 'expired', expiring: 'expiring', invalid: 'key rejected', suspended: 'suspended',
    ok: 'OK', unconfigured: 'not configured',
  };

  // badgeOf is the status of one platform as a tone, a symbol and a text
  // that reads on its own (the colour only repeats it).
  function badgeOf(p) {
    const d = p.days_left;
    switch (p.status) {
      case 'ok': return { tone: 'ok', mark: '✓', text: d != null ? `OK · ${days(d)} left` : 'OK' };
      case 'expiring': return { tone: 'warn', mark: '!', text: d != null ? `Expiring in ${days(d)}` : 'Expiring' };
      case 'expired': return { tone: 'bad', mark: '✕', text: p.not_after ? `Expired on ${day(p.not_after)}` : 'Expired' };
      case 'invalid': return { tone: 'bad', mark: '✕', text: 'Key rejected' };
      case 'suspended': return { tone: 'bad', mark: '‖', text: 'Suspended' };
      case 'unconfigured': return { tone: 'none', mark: '–', text: 'Not configured' };
      default: return { tone: 'none', mark: '?', text: p.status };
    }
  }

  function badge(p, attrs) {
    const b = badgeOf(p);
    return el('span', Object.assign({ class: `badge badge-${b.tone}`, 'data-status': p.status }, attrs || {}),
      el('span', { class: 'mark', 'aria-hidden': 'true' }, b.mark), b.text);
  }

  function statusLine(app) {
    return ['apns', 'fcm'].filter((p) => app[p] && app[p].status !== 'unconfigured')
      .map((p) => `${PLATFORM[p]}: ${badgeOf(app[p]).text}.`).join(' ');
  }

  // ---- Fragment routes ---------------------------------------------------

  // route parses location.hash: "#/apps?q=x" -> {view: 'apps', id: '', params}.
  function route() {
    const h = location.hash.replace(/^#\/?/, '');
    const [path, query] = [h.split('?')[0], h.split('?').slice(1).join('?')];
    const parts = path.split('/').filter(Boolean);
    return { view: parts[0] || 'apps', id: parts[1] ? decodeURIComponent(parts[1]) : '', params: new URLSearchParams(query || '') };
  }

  const appHref = (id) => `#/app/${encodeURIComponent(id)}`;

  window.mobilepush = {
    $, $$, el, say, api, guard, APIError, FieldError, PLATFORM, KIND, STATE_TEXT, day, days, etagOf,
    input, syncKind, addAPNs, addFCM, clearHints, hint, showReport, showFailure, badgeOf, badge, statusLine,
    route, appHref, TOKEN_KEY, token: () => token, setToken: (t) => { token = t; },
    onUnauthorized: null, // set by admin.js: what a 401 does
  };
})();
