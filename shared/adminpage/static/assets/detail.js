// detail.js: one app of the admin page (#/app/ID): its credentials with
// rotate, roll back, re-validate, test push, enable and delete, the
// replace and test-push dialogs, the certificate made without a Mac in
// the APNs panel (csr.js; #/app/ID?renew=apns opens it), and the audit
// trail, filtered by action and platform and paged (GET /v1/apps/{id}/audit).
'use strict';

(() => {
  const M = window.mobilepush;
  const { $, $$, el, say, api, guard, APIError, FieldError, PLATFORM, KIND, day, etagOf, input, syncKind, addAPNs, addFCM, clearHints, showFailure, badge, statusLine } = M;

  let app = null; // the app shown
  const result = () => $('#detail-result');

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

  const action = (label, act, a, extra) => el('button', {
    type: 'button', class: `btn btn-small${act === 'delete' ? ' btn-danger' : ''}`, 'data-action': act,
    'data-platform': extra || null, 'aria-label': `${label} — ${a.name}${extra ? ` ${PLATFORM[extra]}` : ''}`,
  }, label);

  function platformPanel(a, p) {
    const s = a[p] || { status: 'unconfigured' };
    const notes = [];
    if (s.status !== 'ok' && s.status !== 'unconfigured' && (s.reason || s.message)) {
      notes.push(el('p', { class: 'reason' }, s.message || '', s.reason ? el('code', {}, s.reason) : ''));
    }
    for (const w of s.warnings || []) {
      if (w.code !== s.reason) notes.push(el('p', { class: 'reason' }, w.message, el('code', {}, w.code)));
    }
    return el('div', { class: 'platform-row', 'data-platform': p },
      el('div', { class: 'platform-main' }, el('h3', { class: 'platform-name' }, PLATFORM[p]), badge(s)),
      s.status !== 'unconfigured' ? el('p', { class: 'facts' }, facts(s)) : '',
      notes,
      el('div', { class: 'row-actions' },
        p === 'apns' && M.csr.renewable(a) ? action('Renew', 'renew', a, p) : '',
        action(s.status === 'unconfigured' ? 'Add credential' : 'Replace', 'rotate', a, p),
        s.rollback_available ? action('Roll back', 'rollback', a, p) : ''),
      // More ways to get this platform's credential: on the APNs panel,
      // "Create a certificate without a Mac" (csr.js).
      el('div', { class: 'panel-slot', 'data-slot': `${p}-more` }, p === 'apns' ? M.csr.panel(a) : ''));
  }

  function render(a) {
    app = a;
    $('#detail').replaceChildren(el('article', { class: 'app', 'data-app': a.id, 'aria-labelledby': 'detail-title' },
      el('div', { class: 'app-head' },
        el('div', {},
          el('h1', { id: 'detail-title' }, a.name),
          el('p', { class: 'muted small' }, `${a.id} · ${a.environment === 'sandbox' ? 'Sandbox' : 'Production'} · version ${a.version}`)),
        el('span', { class: `pill ${a.enabled ? 'pill-on' : 'pill-off'}` }, a.enabled ? 'Push enabled' : 'Push disabled')),
      a.description ? el('p', { class: 'desc' }, a.description) : '',
      el('div', { class: 'platforms' }, platformPanel(a, 'apns'), platformPanel(a, 'fcm')),
      el('div', { class: 'app-actions' },
        action('Re-validate', 'validate', a),
        action('Send test push', 'test-push', a),
        action(a.enabled ? 'Disable' : 'Enable', 'toggle', a),
        action('Delete', 'delete', a))));
    document.title = `${a.name} · mobilepush`;
  }

  async function reload() {
    const { data } = await api('GET', `/v1/apps/${encodeURIComponent(app.id)}`);
    render(data);
    M.fleetStale();
    await loadAudit(true);
  }

  // ---- Audit trail -----------------------------------------------------------

  const ACTION_TEXT = {
    create: 'Registered', update: 'Changed settings', rotate: 'Replaced credential', rollback: 'Rolled back',
    remove_platform: 'Removed credential', delete: 'Deleted', status: 'State changed', validate: 'Re-validated', test_push: 'Test push',
    signing_request: 'Made a signing request', discard_signing_request: 'Discarded the signing request',
  };
  // A signing request's rows name its key (the fingerprint of its public half).
  const KEY_OF = { signing_request: 'new_fingerprint', discard_signing_request: 'old_fingerprint' };
  const FP = (f) => (f ? f.slice(0, 12) : '—');
  let auditNext = '';
  let auditSeq = 0;

  function auditRow(e) {
    const changes = ['create', 'rotate', 'rollback', 'remove_platform'].includes(e.action) && (e.old_fingerprint || e.new_fingerprint);
    const cred = changes
      ? [el('span', { class: 'block mono' }, `${FP(e.old_fingerprint)} → ${FP(e.new_fingerprint)}`),
        e.old_not_after || e.new_not_after ? el('span', { class: 'block small' }, `expires ${day(e.old_not_after) || '—'} → ${day(e.new_not_after) || '—'}`) : '']
      : KEY_OF[e.action] && e[KEY_OF[e.action]] ? el('span', { class: 'block mono' }, `key ${FP(e[KEY_OF[e.action]])}`) : '';
    return el('tr', { 'data-action': e.action, 'data-platform': e.platform || '' },
      el('td', { 'data-label': 'When' }, String(e.at).replace('T', ' ').slice(0, 19)),
      el('td', { 'data-label': 'What' }, ACTION_TEXT[e.action] || e.action.replace(/_/g, ' '), e.platform ? el('span', { class: 'block muted small' }, PLATFORM[e.platform]) : ''),
      el('td', { 'data-label': 'Result' }, e.result || '', e.message ? el('span', { class: 'block muted small' }, e.message) : ''),
      el('td', { 'data-label': 'Credential' }, cred),
      el('td', { 'data-label': 'By', class: 'mono' }, e.actor || ''));
  }

  async function loadAudit(reset) {
    const me = ++auditSeq;
    const p = new URLSearchParams({ limit: '25' });
    if ($('#a-action').value) p.set('action', $('#a-action').value);
    if ($('#a-platform').value) p.set('platform', $('#a-platform').value);
    if (!reset && auditNext) p.set('cursor', auditNext);
    const { data } = await api('GET', `/v1/apps/${encodeURIComponent(app.id)}/audit?${p}`);
    if (me !== auditSeq) return;
    const body = $('#audit-table tbody');
    if (reset) body.replaceChildren();
    body.append(...data.events.map(auditRow));
    auditNext = data.next_cursor || '';
    $('#audit-more').hidden = !auditNext;
    say($('#audit-result'), body.childElementCount ? '' : 'No events.', 'info');
  }
  for (const id of ['#a-action', '#a-platform']) $(id).addEventListener('change', guard(() => loadAudit(true), () => $('#audit-result')));
  $('#audit-more').addEventListener('click', guard(() => loadAudit(false), () => $('#audit-result')));

  // ---- Actions ---------------------------------------------------------------

  const actions = {
    async validate(a) {
      say(result(), `Re-validating “${a.name}”…`);
      const { data } = await api('POST', `/v1/apps/${a.id}/validate`);
      await reload();
      const lines = data.validations.map((v) => `${PLATFORM[v.platform]}: ${v.status.state}${v.live && v.live.message ? ` — ${v.live.message}` : ''}`);
      say(result(), `Re-validated “${a.name}”. ${lines.join(' ') || 'No credential to check.'}`, 'ok');
    },
    async toggle(a) {
      await api('PATCH', `/v1/apps/${a.id}`, { body: { enabled: !a.enabled }, etag: etagOf(a) });
      await reload();
      say(result(), `Push ${a.enabled ? 'disabled' : 'enabled'} for “${a.name}”.`, 'ok');
    },
    async delete(a) {
      // eslint-disable-next-line no-alert
      if (!window.confirm(`Delete “${a.name}” and its stored credentials? This cannot be undone.`)) return;
      await api('DELETE', `/v1/apps/${a.id}`, { etag: etagOf(a) });
      M.fleetStale();
      location.hash = '#/apps';
    },
    async rollback(a, p) {
      await api('POST', `/v1/apps/${a.id}/${p}/rollback`, { etag: etagOf(a) });
      await reload();
      say(result(), `Rolled back the ${PLATFORM[p]} credential of “${a.name}” to the previous one.`, 'ok');
    },
    rotate(a, p) { openRotate(a, p); },
    renew() { M.csr.open(); },
    'test-push': (a) => openTestPush(a),
  };

  $('#detail').addEventListener('click', guard(async (ev) => {
    const btn = ev.target.closest('button[data-action]');
    if (!btn || !app) return;
    const a = app;
    try {
      btn.disabled = true;
      await actions[btn.dataset.action](a, btn.dataset.platform);
    } catch (err) {
      if (err instanceof APIError && err.status === 412) {
        await reload();
        throw new Error(`“${a.name}” was changed meanwhile; the page now shows the current state. Try again.`);
      }
      throw err;
    } finally {
      btn.disabled = false;
    }
  }, result));

  // ---- Dialogs ---------------------------------------------------------------

  for (const b of $$('[data-close]')) b.addEventListener('click', () => b.closest('dialog').close());
  const rotateForm = $('#rotate-form');
  const rotateResult = $('#rotate-result');
  let rotating = null; // {app, platform}
  for (const r of $$('[data-kind]', rotateForm)) r.addEventListener('change', () => syncKind(rotateForm));

  // openRotate opens the replace dialog prefilled with what the current
  // credential says: its bundle id, and for a .p8 its key id and team id.
  function openRotate(a, p) {
    rotating = { app: a, platform: p };
    rotateForm.reset();
    clearHints(rotateForm);
    say(rotateResult, '');
    const cur = a[p] || {};
    $('#rotate-title').textContent = `${cur.status === 'unconfigured' ? 'Add' : 'Replace'} the ${PLATFORM[p]} credential of “${a.name}”`;
    for (const fs of $$('fieldset[data-platform]', rotateForm)) fs.hidden = fs.dataset.platform !== p;
    if (p === 'apns') {
      input(rotateForm, 'apns.bundle_id').value = cur.bundle_id || '';
      $(cur.kind === 'apns_p8' ? '#r-apns-kind-p8' : '#r-apns-kind-p12').checked = true;
      if (cur.kind === 'apns_p8') {
        input(rotateForm, 'apns.key_id').value = cur.key_id || '';
        input(rotateForm, 'apns.team_id').value = cur.team_id || '';
      }
      syncKind(rotateForm);
    }
    $('#rotate-dialog').showModal();
  }

  rotateForm.addEventListener('submit', guard(async (ev) => {
    ev.preventDefault();
    const { app: a, platform } = rotating;
    clearHints(rotateForm);
    say(rotateResult, 'Checking…');
    try {
      const fd = new FormData();
      const given = platform === 'apns' ? addAPNs(rotateForm, fd) : addFCM(rotateForm, fd);
      if (!given) throw new FieldError(platform === 'apns' ? 'apns.p12' : 'fcm', 'Choose the new credential file.');
      const { data } = await api('PUT', `/v1/apps/${a.id}/${platform}`, { body: fd, etag: etagOf(a) });
      $('#rotate-dialog').close();
      await reload();
      say(result(), `Replaced the ${PLATFORM[platform]} credential of “${a.name}”. ${statusLine(data)}`, 'ok');
    } catch (err) {
      if (err instanceof APIError && err.status === 412) {
        await reload();
        return say(rotateResult, 'The app was changed meanwhile; close this dialog and try again.', 'error');
      }
      if (err instanceof APIError && err.status === 401) return;
      showFailure(rotateForm, rotateResult, err);
    }
  }, () => rotateResult));

  const pushResult = $('#push-result');
  let pushing = null;

  function openTestPush(a) {
    pushing = a;
    say(pushResult, '');
    $('#push-title').textContent = `Send a test push — “${a.name}”`;
    const sel = $('#push-platform');
    for (const o of sel.options) o.disabled = !a[o.value] || a[o.value].status === 'unconfigured';
    const firstOK = Array.from(sel.options).find((o) => !o.disabled);
    if (firstOK) sel.value = firstOK.value;
    $('#push-dialog').showModal();
    $('#push-token').focus();
  }

  $('#push-form').addEventListener('submit', guard(async (ev) => {
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
    await loadAudit(true);
  }, () => pushResult));

  // showApp renders #/app/ID; with params renew=apns it opens the
  // certificate flow of the APNs panel.
  async function showApp(id, params) {
    if (!app || app.id !== id) {
      $('#detail').replaceChildren(el('p', { class: 'muted' }, 'Loading…'));
      $('#audit-table tbody').replaceChildren();
      say(result(), '');
      $('#a-action').value = '';
      $('#a-platform').value = '';
    }
    try {
      const { data } = await api('GET', `/v1/apps/${encodeURIComponent(id)}`);
      render(data);
      if (params && params.get('renew') === 'apns') M.csr.open();
    } catch (err) {
      if (err instanceof APIError && err.status === 404) {
        app = null;
        $('#detail').replaceChildren(el('h1', { id: 'detail-title' }, 'No such app'), el('p', {}, 'It was deleted, or it belongs to another tenant.'));
        return;
      }
      throw err;
    }
    await loadAudit(true);
  }

  M.showApp = showApp;
  M.reloadApp = reload;
})();
