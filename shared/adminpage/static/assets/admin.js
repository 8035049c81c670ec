// admin.js: the frame of the mobilepush admin page (package adminpage):
// the token, the views and their fragment routes (#/apps, #/app/ID,
// #/new, #/send), registering an app, and sending a message.
//
// Plain JavaScript, no framework, no build step; the shared parts are in
// common.js, the fleet view in fleet.js, an app's view in detail.js.
'use strict';

(() => {
  const M = window.mobilepush;
  const { $, $$, el, say, api, guard, APIError, FieldError, syncKind, clearHints, showReport, showFailure, addAPNs, addFCM, statusLine, appHref } = M;

  // ---- Token -------------------------------------------------------------

  function signOut(message) {
    M.setToken('');
    sessionStorage.removeItem(M.TOKEN_KEY);
    $('#workspace').hidden = true;
    $('#session').hidden = true;
    $('#nav').hidden = true;
    $('#token-section').hidden = false;
    $('#token-error').textContent = message || '';
    $('#token-input').setAttribute('aria-invalid', message ? 'true' : 'false');
    $('#token-input').focus();
  }
  M.onUnauthorized = signOut;

  function showWorkspace() {
    $('#token-section').hidden = true;
    $('#workspace').hidden = false;
    $('#session').hidden = false;
    $('#nav').hidden = false;
  }

  $('#token-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const value = $('#token-input').value.trim();
    if (!value) return signOut('Enter the token that mobilepush token printed.');
    M.setToken(value);
    try {
      await api('GET', '/v1/apps?limit=1');
    } catch (err) {
      if (!(err instanceof APIError && err.status === 401)) signOut(err.message);
      return; // refused: signOut has said so
    }
    sessionStorage.setItem(M.TOKEN_KEY, value);
    $('#token-form').reset();
    showWorkspace();
    await show();
    $('#main').focus();
  });

  $('#change-token').addEventListener('click', () => signOut(''));

  // ---- Views -------------------------------------------------------------

  // show renders the view the fragment names.
  async function show() {
    if (!M.token()) return;
    const r = M.route();
    const view = { apps: 'apps', app: 'app', new: 'new', send: 'send' }[r.view] || 'apps';
    for (const v of $$('[data-view]')) v.hidden = v.dataset.view !== view;
    for (const a of $$('[data-nav]')) {
      if (a.dataset.nav === (view === 'app' ? 'apps' : view)) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    if (view !== 'app') document.title = 'mobilepush · Push credentials';
    try {
      if (view === 'apps') await M.showFleet(r.params);
      else if (view === 'app') await M.showApp(r.id, r.params);
      else if (view === 'send') await loadMessageApps();
    } catch (err) {
      if (err instanceof APIError && err.status === 401) return;
      say(view === 'app' ? $('#detail-result') : view === 'send' ? $('#message-result') : $('#apps-result'), err.message, 'error');
    }
  }
  window.addEventListener('hashchange', () => { show(); });

  // ---- Register ----------------------------------------------------------

  const form = $('#app-form');
  const formResult = $('#form-result');

  for (const r of $$('[data-kind]', form)) r.addEventListener('change', () => syncKind(form));
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
    try {
      const name = $('#app-name').value.trim();
      if (!name) throw new FieldError('name', 'Enter the app name.');
      const fd = new FormData();
      fd.append('name', name);
      fd.append('description', $('#app-description').value.trim());
      fd.append('enabled', $('#app-enabled').checked ? 'true' : 'false');
      fd.append('environment', $('#app-production').checked ? 'production' : 'sandbox');
      credentialForm(form, fd);
      const { data } = await api('POST', '/v1/apps', { body: fd });
      form.reset();
      say(formResult, `Saved “${data.name}”. ${statusLine(data)}`, 'ok');
      formResult.append(el('p', {}, el('a', { href: appHref(data.id), id: 'open-saved', 'data-app': data.id }, `Open “${data.name}”`)));
      for (const p of ['apns', 'fcm']) {
        if (data[p] && data[p].status !== 'unconfigured') {
          showReport(form, formResult, p, { warnings: data[p].warnings, kind: data[p].kind }, data[p].live);
        }
      }
      M.fleetStale();
    } catch (err) {
      if (err instanceof APIError && err.status === 401) return;
      showFailure(form, formResult, err);
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
      showFailure(form, formResult, err);
    }
  }, () => formResult));

  // ---- Messages: enqueue a push and watch its outcome counts -----------

  const msgForm = $('#message-form');
  const msgResult = $('#message-result');
  const STATE = { queued: ['Queued', 'none'], sending: ['Sending', 'warn'], done: ['Done', 'ok'] };
  let watching = 0; // the poll of the latest message; an older one stops

  // loadMessageApps offers every app, by name, in the message form.
  async function loadMessageApps() {
    const list = [];
    let cursor = '';
    for (let i = 0; i < 20; i++) {
      const { data } = await api('GET', `/v1/apps?sort=name&limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      list.push(...data.apps);
      if (!(cursor = data.next_cursor)) break;
    }
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
  if (M.token()) {
    showWorkspace();
    show();
  } else {
    signOut('');
  }
})();
