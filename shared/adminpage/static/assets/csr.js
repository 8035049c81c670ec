// csr.js: "Create a certificate without a Mac" on an app's APNs panel
// (#/app/ID): mobilepush makes the key and the signing request
// (POST /v1/apps/{id}/apns/csr), the page downloads it as
// ID.certSigningRequest (?format=file), shows the steps in Apple's portal,
// and uploads the aps.cer Apple gives back (PUT /v1/apps/{id}/apns, the
// file part apns.cer), checked as any upload with each failure next to
// its field. An expiring or expired certificate offers it as "Renew".
//
// The private key never reaches the page: only the request, its date and
// the key's fingerprint.
'use strict';

(() => {
  const M = window.mobilepush;
  const { $, el, say, api, APIError, FieldError, PLATFORM, day, etagOf, clearHints, hint, showReport, showFailure, statusLine } = M;

  // renewable reports whether the APNs credential of a is a certificate
  // that expires soon or has expired: what "Renew" is offered for.
  const renewable = (a) => Boolean(a.apns && a.apns.kind === 'apns_p12' && ['expiring', 'expired'].includes(a.apns.status));

  const when = (t) => String(t || '').replace('T', ' ').slice(0, 16);
  const csrPath = (a) => `/v1/apps/${encodeURIComponent(a.id)}/apns/csr`;

  // saveFile hands blob to the browser as a download named name.
  function saveFile(blob, name) {
    const url = URL.createObjectURL(blob);
    const link = el('a', { href: url, download: name, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  }

  // download saves the pending request as the file Apple's portal takes.
  async function download(a) {
    const { data } = await api('GET', `${csrPath(a)}?format=file`, { blob: true });
    saveFile(data, `${a.id}.certSigningRequest`);
  }

  // expanded is the app whose flow the administrator unfolded: a reload
  // of the app (after each step) keeps it unfolded.
  let expanded = '';

  // pendingLine describes the pending request: when it was made, until
  // when it can be used, and its key's fingerprint (to tell requests apart).
  function pendingLine(p) {
    return el('p', { class: 'csr-pending', 'data-csr-pending': p.key_fingerprint_sha256 },
      el('b', {}, 'Request pending'), ` since ${when(p.created_at)} UTC, usable until ${day(p.expires_at)}. Key SHA-256 `,
      el('code', { title: p.key_fingerprint_sha256 }, `${p.key_fingerprint_sha256.slice(0, 16)}…`));
  }

  // appleSteps are the numbered steps in Apple's portal for app a (made
  // for each render: a node can be in one place only).
  const appleSteps = (a) => [
    ['Sign in to the Apple Developer portal and open ',
      el('a', { href: 'https://developer.apple.com/account/resources/certificates/list', target: '_blank', rel: 'noopener noreferrer' }, 'Certificates, Identifiers & Profiles'),
      ' (developer.apple.com › Account).'],
    ['Certificates › the ', el('b', {}, '+'), ' button.'],
    ['Services: choose ', el('b', {}, 'Apple Push Notification service SSL (Sandbox & Production)'), ', then Continue.'],
    ['App ID: choose the one of ', a.apns && a.apns.bundle_id ? el('code', {}, a.apns.bundle_id) : 'this app', ', then Continue.'],
    ['Upload the request downloaded in step 1 (', el('code', {}, '.certSigningRequest'), '), then Continue.'],
    ['Download: Apple gives ', el('code', {}, 'aps.cer'), '. Upload it in step 3 as it is; no Keychain Access, no password.'],
  ];

  // panel is the flow for app a, to go in its APNs panel's slot.
  function panel(a) {
    const renew = renewable(a);
    const p = a.apns_signing_request;
    const bundle = (a.apns && a.apns.bundle_id) || '';
    const n = (k) => `csr-${k}`;
    const step1 = el('li', { class: 'csr-step', 'data-step': '1' },
      el('h4', { tabIndex: -1 }, 'Create the signing request'),
      el('p', { class: 'help-line' }, 'mobilepush makes a new private key and keeps it sealed where it keeps every secret; the request holds only its public half.'),
      p ? pendingLine(p) : '',
      el('div', { class: 'row-actions' },
        p ? el('button', { type: 'button', class: 'btn btn-small btn-primary', 'data-csr': 'download' }, `Download ${a.id}.certSigningRequest`) : '',
        el('button', { type: 'button', class: `btn btn-small${p ? '' : ' btn-primary'}`, 'data-csr': 'create' }, p ? 'Make a new request' : 'Create and download the request'),
        p ? el('button', { type: 'button', class: 'btn btn-small btn-quiet', 'data-csr': 'discard' }, 'Discard') : ''));
    const step2 = el('li', { class: 'csr-step', 'data-step': '2' },
      el('h4', { tabIndex: -1 }, 'Have Apple sign it'),
      el('ol', { class: 'csr-apple' }, appleSteps(a).map((s) => el('li', {}, s))));
    const form = el('form', { class: 'stack csr-upload', noValidate: true, 'data-apns-file': 'apns.cer', 'data-kind-label': 'Apple’s certificate (.cer) with the request’s key' },
      el('div', { class: 'field' },
        el('label', { htmlFor: n('bundle') }, 'Bundle identifier'),
        el('input', { id: n('bundle'), type: 'text', value: bundle, spellcheck: false, autocapitalize: 'off', placeholder: 'com.example.app', 'data-field': 'apns.bundle_id', 'aria-describedby': n('hint-bundle') }),
        el('p', { class: 'hint hint-error', id: n('hint-bundle'), 'data-hint': 'apns.bundle_id', hidden: true })),
      el('div', { class: 'field' },
        el('label', { htmlFor: n('cer') }, 'Apple’s certificate (aps.cer)'),
        el('input', { id: n('cer'), type: 'file', accept: '.cer,.crt,.pem,application/x-x509-ca-cert,application/pkix-cert', 'data-field': 'apns.cer', 'aria-describedby': n('cer-help') + ' ' + n('hint-cer') }),
        el('p', { class: 'help-line', id: n('cer-help') }, 'aps.cer or aps_development.cer as downloaded. It is paired with the pending key, checked as a .p12 is (key, push extensions, bundle id, environment, dates) and proven with Apple before it replaces anything.'),
        el('p', { class: 'hint hint-error', id: n('hint-cer'), 'data-hint': 'apns.cer', hidden: true })),
      el('p', { class: 'hint hint-error', 'data-hint': 'apns', hidden: true }),
      el('div', { class: 'actions' }, el('button', { type: 'submit', class: 'btn btn-primary btn-small', 'data-csr': 'upload' }, 'Check and save the certificate')),
      el('div', { class: 'result', id: n('result'), role: 'status', 'aria-live': 'polite' }));
    const step3 = el('li', { class: 'csr-step', 'data-step': '3' }, el('h4', { tabIndex: -1 }, 'Upload Apple’s certificate'), form);
    const flow = el('details', { class: 'csr-flow', id: 'csr-flow', open: Boolean(p) || expanded === a.id, 'data-pending': p ? 'true' : 'false' },
      el('summary', { 'data-renew': renew ? 'true' : null }, renew ? 'Renew without a Mac' : 'Create a certificate without a Mac'),
      el('p', { class: 'help-line' }, renew
        ? `${a.apns.status === 'expired' ? 'The certificate has expired: pushes to its iOS devices fail until its successor is saved.' : 'The certificate expires soon; it keeps working until its successor is saved.'} Make the successor here: no Mac, no Keychain Access, no .p12 password.`
        : 'No Mac, no Keychain Access, no .p12 password: mobilepush makes the key and the request, Apple signs it, you upload the result.'),
      el('ol', { class: 'csr-steps' }, step1, step2, step3));
    flow.addEventListener('toggle', () => { expanded = flow.open ? a.id : ''; });
    // guard shows what even the failure handling could not (a reload that
    // fails too) instead of leaving a promise rejected.
    const failed = () => $('#detail-result');
    form.addEventListener('submit', M.guard(async (ev) => { ev.preventDefault(); await upload(a, form); }, failed));
    flow.addEventListener('click', M.guard(async (ev) => {
      const b = ev.target.closest('button[data-csr]');
      if (b && b.type === 'button') await run(a, b, form);
    }, failed));
    return flow;
  }

  const region = (form) => $('.result', form);

  // run performs a step-1 action, showing failures under the flow.
  async function run(a, btn, form) {
    const out = region(form);
    btn.disabled = true;
    try {
      switch (btn.dataset.csr) {
        case 'create':
          // eslint-disable-next-line no-alert
          if (a.apns_signing_request && !window.confirm('Make a new request? The pending one is discarded: a certificate Apple issues for it can no longer be uploaded.')) return;
          {
            // The answer holds the request itself: saved as the file
            // GET ?format=file serves, without a second call.
            const { data } = await api('POST', csrPath(a), {});
            saveFile(new Blob([data.csr_pem], { type: 'application/pkcs10' }), `${a.id}.certSigningRequest`);
            expanded = a.id;
            await M.reloadApp();
            say(region($('#csr-flow form')), `Signing request created and downloaded as ${a.id}.certSigningRequest. Now step 2: have Apple sign it.`, 'ok');
            const next = $('#csr-flow [data-step="2"] h4');
            if (next) next.focus();
          }
          break;
        case 'download':
          await download(a);
          say(out, `Downloaded ${a.id}.certSigningRequest.`, 'ok');
          break;
        case 'discard':
          // eslint-disable-next-line no-alert
          if (!window.confirm('Discard the pending request and its key? A certificate Apple issues for it can no longer be uploaded.')) return;
          await api('DELETE', csrPath(a));
          await M.reloadApp();
          say(region($('#csr-flow form')), 'Discarded the pending signing request and its key.', 'ok');
          { const c = $('#csr-flow button[data-csr="create"]'); if (c) c.focus(); }
          break;
        default:
      }
    } catch (err) {
      if (err instanceof APIError && err.status === 401) return;
      if (err instanceof APIError && err.status === 404) {
        await M.reloadApp();
        return say($('#detail-result'), 'No signing request is pending any more (it expired, was used or was discarded).', 'error');
      }
      say(out, err.message, 'error');
    } finally {
      btn.disabled = false;
    }
  }

  // upload sends the .cer with the bundle id, as the file part apns.cer.
  async function upload(a, form) {
    const out = region(form);
    clearHints(form);
    say(out, 'Checking…');
    try {
      const bundle = $('[data-field="apns.bundle_id"]', form).value.trim();
      const file = $('[data-field="apns.cer"]', form).files[0];
      if (!file) throw new FieldError('apns.cer', 'Choose the aps.cer file downloaded from the Apple Developer portal.');
      if (!bundle) throw new FieldError('apns.bundle_id', 'Enter the bundle identifier of the app, such as com.example.app.');
      const fd = new FormData();
      fd.append('apns.bundle_id', bundle);
      fd.append('apns.cer', file);
      const { data } = await api('PUT', `/v1/apps/${encodeURIComponent(a.id)}/apns`, { body: fd, etag: etagOf(a) });
      expanded = '';
      await M.reloadApp();
      const res = $('#detail-result');
      say(res, `Saved the ${PLATFORM.apns} certificate made from the signing request. ${statusLine(data)}`, 'ok');
      if (data.apns) showReport($('#detail'), res, 'apns', { warnings: data.apns.warnings, kind: data.apns.kind }, data.apns.live);
    } catch (err) {
      if (err instanceof APIError && err.status === 401) return;
      if (err instanceof APIError && err.status === 412) {
        await M.reloadApp();
        return say($('#detail-result'), 'The app was changed meanwhile; the page now shows the current state. Upload again.', 'error');
      }
      if (err instanceof APIError && err.code === 'no_pending_request') {
        say(out, 'Not saved: no signing request is pending.', 'error');
        const i = hint(form, 'apns.cer', [err.message, ' ', el('code', {}, err.code)]);
        if (i) i.focus();
        return;
      }
      showFailure(form, out, err);
    }
  }

  // open unfolds the flow and moves focus to its first action.
  function open() {
    const flow = $('#csr-flow');
    if (!flow) return;
    flow.open = true;
    flow.scrollIntoView({ block: 'nearest' });
    const first = $('button[data-csr]', flow);
    if (first) first.focus();
  }

  M.csr = { panel, renewable, open };
})();
