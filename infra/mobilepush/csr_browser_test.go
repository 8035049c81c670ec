package main

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"mobilepush/shared/credential"
	"mobilepush/shared/push"
	"mobilepush/shared/testcred"
)

const (
	renewApp    = "renew-me"
	renewBundle = "com.brand.renew"
)

// seedRenewal writes three apps into the store of data: renew-me, whose
// APNs certificate expires in 10 days (state expiring), gone, whose
// certificate expired 3 days ago, and fine, whose certificate is good for
// a year.
func seedRenewal(t testing.TB, data string) {
	t.Helper()
	ca, err := testcred.AppleWWDR()
	if err != nil {
		t.Fatal(err)
	}
	svc, done := seedService(t, data)
	defer done()
	now := time.Now().UTC()
	for _, s := range []struct {
		id, name, bundle string
		left             time.Duration
		state            credential.Status
	}{
		{renewApp, "Renew Me", renewBundle, 10 * 24 * time.Hour, credential.Status{State: credential.Expiring, Reason: "expiring_soon", Message: "The certificate expires soon."}},
		{"gone", "Gone", "com.brand.gone", -3 * 24 * time.Hour, credential.Status{State: credential.Expired, Reason: "expired", Message: "The certificate expired."}},
		{"fine", "Fine", "com.brand.fine", 365 * 24 * time.Hour, credential.Status{State: credential.OK}},
	} {
		id, err := ca.IssuePush(testcred.PushCert{BundleID: s.bundle, NotBefore: now.Add(-300 * 24 * time.Hour), NotAfter: now.Add(s.left)})
		if err != nil {
			t.Fatal(err)
		}
		chain, key, err := id.PEM()
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(id.Cert.Raw)
		_, err = svc.Create(context.Background(), credential.CreateRequest{
			Tenant: "default", ID: s.id, Name: s.name, Enabled: true, Environment: push.Production, Actor: "seed",
			APNs: &credential.Upload{
				Material: credential.Material{Kind: push.APNsP12, CertificateChainPEM: push.NewRedacted(chain), PrivateKeyPEM: push.NewRedacted(key)},
				Facts: credential.Facts{FingerprintSHA256: hex.EncodeToString(sum[:]), BundleID: s.bundle, Topics: []string{s.bundle}, Environment: "both",
					NotBefore: id.Cert.NotBefore, NotAfter: id.Cert.NotAfter},
				Status: s.state, DueAt: now.Add(400 * 24 * time.Hour),
			},
		})
		if err != nil {
			t.Fatalf("seed %s: %v", s.id, err)
		}
	}
}

// appView is what GET /v1/apps/{id} says about the APNs credential and
// the pending signing request.
type appView struct {
	Version int64 `json:"version"`
	APNs    struct {
		Status            string `json:"status"`
		Kind              string `json:"kind"`
		FingerprintSHA256 string `json:"fingerprint_sha256"`
		RollbackAvailable bool   `json:"rollback_available"`
	} `json:"apns"`
	Pending *struct {
		KeyFingerprintSHA256 string `json:"key_fingerprint_sha256"`
	} `json:"apns_signing_request"`
}

// TestCSRBrowser walks "Create a certificate without a Mac" in headless
// Chromium, as an administrator renewing an expiring certificate does:
// the fleet table offers Renew for the expiring and the expired
// certificate only, the link opens the flow on the app's APNs panel, the
// page creates the signing request and downloads it (a PKCS#10 PEM for
// the app, whose key is the one the API and the page name, with the
// request's date), testcred signs it as Apple's portal does, and the
// aps.cer uploaded through the page becomes the new credential version,
// with the audit row "from a signing request" and no Renew offer left.
// On the way, the request uploaded instead of the certificate and a
// certificate for another bundle are refused with their hints next to
// their fields, storing nothing, and so is the same aps.cer once its
// request is used; a second request is replaced by a third, which is
// discarded; the expired app's flow says it has expired; the keyboard
// reaches every control of the flow; nothing is wider than 390 px;
// nothing logs an error. With UPDATE_SCREENSHOT=1 the APNs panel with a
// request pending goes to docs/csr-flow.png.
func TestCSRBrowser(t *testing.T) {
	chrome := findChromium(t)
	base, token, _ := startServerSeeded(t, func(data string) { seedRenewal(t, data) })
	downloads := t.TempDir()
	files := t.TempDir()
	b := newBrowser(t, chrome)
	// Downloads keep the name the page gives them (a.download), in downloads.
	b.do("allow downloads", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads})
		return err
	}))

	app := func() appView {
		t.Helper()
		var a appView
		getJSON(t, base, token, "/v1/apps/"+renewApp, &a)
		return a
	}
	before := app()
	if before.APNs.Status != "expiring" || before.Pending != nil {
		t.Fatalf("seeded app = %+v, want an expiring certificate and no pending request", before)
	}

	// The fleet table offers Renew for the expiring and the expired certificate only.
	b.do("sign in",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS("#token-input")),
		chromedp.SendKeys(chromedp.CSS("#token-input"), token),
		chromedp.Click(chromedp.CSS("#token-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(`#fleet-rows tr[data-app="fine"]`)),
	)
	if got := b.eval(`Array.from(document.querySelectorAll('#fleet-rows a.renew-link')).map((a) => a.dataset.renew + ' ' + a.getAttribute('href')).sort().join('|')`); got != "gone #/app/gone?renew=apns|"+renewApp+" #/app/"+renewApp+"?renew=apns" {
		t.Errorf("Renew links in the fleet table = %q, want one for gone and one for %s", got, renewApp)
	}
	if got := b.poll("the Renew note", `(() => { const n = document.getElementById('renew-note'); return n.hidden ? '' : n.textContent; })()`); !strings.Contains(got, "Renew") {
		t.Errorf("the attention card does not point at Renew: %q", got)
	}
	b.do("follow Renew", chromedp.Click(chromedp.CSS(`#fleet-rows a.renew-link[data-renew="`+renewApp+`"]`)))
	flow := `#detail [data-platform="apns"] [data-slot="apns-more"] details#csr-flow`
	opened := b.poll("the flow, open", fmt.Sprintf(`(() => { const f = document.querySelector(%q); return f && f.open && document.activeElement && f.contains(document.activeElement) ? f.querySelector('summary').textContent : ''; })()`, flow))
	if opened != "Renew without a Mac" {
		t.Errorf("the flow's title = %q, want Renew without a Mac", opened)
	}
	if got := b.eval(`Array.from(document.querySelectorAll('#detail [data-platform="apns"] button[data-action="renew"]')).length + ''`); got != "1" {
		t.Errorf("the APNs panel has %s Renew buttons, want 1", got)
	}
	apple := b.eval(fmt.Sprintf(`document.querySelector(%q).innerText`, flow+` [data-step="2"]`))
	for _, want := range []string{"Certificates, Identifiers & Profiles", "+", "Apple Push Notification service SSL (Sandbox & Production)", renewBundle, ".certSigningRequest", "aps.cer"} {
		if !strings.Contains(apple, want) {
			t.Errorf("Apple's steps lack %q:\n%s", want, apple)
		}
	}

	// Step 1: the page makes the request and downloads it.
	b.do("create the signing request", chromedp.Click(chromedp.CSS(flow+` button[data-csr="create"]`)))
	csrPath := filepath.Join(downloads, renewApp+".certSigningRequest")
	csrPEM := waitFile(t, csrPath)
	shown := b.poll("the pending request", fmt.Sprintf(`(() => { const p = document.querySelector(%q); return p ? p.dataset.csrPending + ' ' + p.innerText : ''; })()`, flow+` [data-csr-pending]`))
	pending := app().Pending
	if pending == nil {
		t.Fatal("after Create the API shows no pending request")
	}
	blk, rest := pem.Decode(csrPEM)
	if blk == nil || blk.Type != "CERTIFICATE REQUEST" || len(strings.TrimSpace(string(rest))) != 0 {
		t.Fatalf("the download is not one PEM CERTIFICATE REQUEST: %q", csrPEM)
	}
	req, err := x509.ParseCertificateRequest(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := req.CheckSignature(); err != nil || req.SignatureAlgorithm != x509.SHA256WithRSA {
		t.Errorf("signature %v: %v, want a valid SHA256-RSA", req.SignatureAlgorithm, err)
	}
	spki, _ := x509.MarshalPKIXPublicKey(req.PublicKey)
	keySum := sha256.Sum256(spki)
	if fp := hex.EncodeToString(keySum[:]); fp != pending.KeyFingerprintSHA256 || !strings.HasPrefix(shown, fp+" ") || !strings.Contains(shown, fp[:16]) {
		t.Errorf("the request's key %s, the API's %s, the page's %q", fp, pending.KeyFingerprintSHA256, shown)
	}
	if today := time.Now().UTC().Format("2006-01-02"); !strings.Contains(shown, "since "+today) {
		t.Errorf("the pending request %q does not say when it was made (%s)", shown, today)
	}
	if req.Subject.CommonName != "Renew Me" {
		t.Errorf("the request's CN = %q, want the app's name", req.Subject.CommonName)
	}
	if served := apiGet(t, base, token, "/v1/apps/"+renewApp+"/apns/csr?format=file"); string(served) != string(csrPEM) {
		t.Errorf("the page's file differs from the API's download")
	}
	// The message comes once the app and its audit trail are read again.
	b.poll("the created message", fmt.Sprintf(`(() => { const e = document.getElementById('csr-result'); return e && e.textContent.includes(%q) ? 'yes' : ''; })()`, "downloaded as "+renewApp+".certSigningRequest. Now step 2"))
	// What docs/csr-flow.png shows: the APNs panel with a request pending.
	b.eval(`(document.activeElement.blur(), '')`)
	shot := b.elementShot("csr-flow.png", `#detail .platform-row[data-platform="apns"]`)

	// The download button fetches the same file again.
	if err := os.Remove(csrPath); err != nil {
		t.Fatal(err)
	}
	b.do("download it again", chromedp.Click(chromedp.CSS(flow+` button[data-csr="download"]`)))
	if again := waitFile(t, csrPath); string(again) != string(csrPEM) {
		t.Error("Download gives another file than Create did")
	}

	// Step 3 with mistakes: each refusal next to its field, nothing stored.
	made := app()
	ca, err := testcred.AppleWWDR()
	if err != nil {
		t.Fatal(err)
	}
	other, err := ca.SignRequest(csrPEM, testcred.PushCert{BundleID: "com.brand.other"})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct {
		name, file, hint, input string
		contains                []string
	}{
		{"the request instead of the certificate", csrPath, "csr-hint-cer", "csr-cer", []string{"signing request, not Apple's certificate", "no_certificate"}},
		{"a certificate for another bundle", writeFile(t, files, "aps_other.cer", other), "csr-hint-bundle", "csr-bundle", []string{"com.brand.other", "bundle_id_mismatch"}},
	} {
		b.do(m.name,
			chromedp.SetUploadFiles(chromedp.CSS("#csr-cer"), []string{m.file}),
			chromedp.Click(chromedp.CSS(flow+` button[data-csr="upload"]`)))
		got := b.poll(m.name+": #"+m.hint, fmt.Sprintf(`(() => { const e = document.getElementById(%q); return e && !e.hidden && e.textContent.includes(%q) ? e.textContent : ''; })()`, m.hint, m.contains[1]))
		for _, want := range m.contains {
			if !strings.Contains(got, want) {
				t.Errorf("%s: hint %q lacks %q", m.name, got, want)
			}
		}
		if next := b.eval(fmt.Sprintf(`String(document.getElementById(%q).parentElement.contains(document.getElementById(%q)) && document.getElementById(%q).getAttribute('aria-invalid'))`, m.hint, m.input, m.input)); next != "true" {
			t.Errorf("%s: #%s is not next to #%s, or the input is not marked aria-invalid (%s)", m.name, m.hint, m.input, next)
		}
		if res := b.eval(`document.getElementById('csr-result').textContent`); !strings.Contains(res, "Not saved") || !strings.Contains(res, "— Apple’s certificate (.cer) with the request’s key") || strings.Contains(res, ".p12)") {
			t.Errorf("%s: result = %q, want Not saved with the checks of a .cer", m.name, res)
		}
		if a := app(); a.Version != made.Version || a.APNs.FingerprintSHA256 != before.APNs.FingerprintSHA256 || a.Pending == nil || a.Pending.KeyFingerprintSHA256 != pending.KeyFingerprintSHA256 {
			t.Errorf("%s: the app changed (%+v): a refused upload stores nothing and keeps the request", m.name, a)
		}
	}
	b.screenshot("csr-flow-refused.png")

	// Apple signs the request; the page uploads aps.cer.
	cer, err := ca.SignRequest(csrPEM, testcred.PushCert{BundleID: renewBundle, NotAfter: time.Now().Add(395 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(cer)
	cerSum := sha256.Sum256(cer)
	b.do("upload aps.cer",
		chromedp.SetUploadFiles(chromedp.CSS("#csr-cer"), []string{writeFile(t, files, "aps.cer", cer)}),
		chromedp.Click(chromedp.CSS(flow+` button[data-csr="upload"]`)))
	saved := b.poll("saved", `(() => { const t = document.getElementById('detail-result').textContent; return t.includes('Saved') ? t : ''; })()`)
	if !strings.Contains(saved, "made from the signing request") {
		t.Errorf("result = %q", saved)
	}
	after := app()
	if after.APNs.Status != "ok" || after.APNs.Kind != "apns_p12" || after.APNs.FingerprintSHA256 != hex.EncodeToString(cerSum[:]) || !after.APNs.RollbackAvailable || after.Pending != nil || after.Version <= before.Version {
		t.Errorf("after the upload the API says %+v, want the new certificate %x, rollback, no pending request", after, cerSum)
	}
	badge := b.poll("the new badge", `(() => { const e = document.querySelector('#detail [data-platform="apns"] .badge[data-status="ok"]'); return e ? e.textContent : ''; })()`)
	if want := fmt.Sprintf("%d days left", daysLeft(leaf.NotAfter)); !strings.Contains(badge, want) {
		t.Errorf("APNs badge = %q, want %s", badge, want)
	}
	if got := b.eval(`document.querySelector('#detail [data-platform="apns"] .facts').textContent`); !strings.Contains(got, after.APNs.FingerprintSHA256[:16]) {
		t.Errorf("the panel's facts %q do not name the new certificate", got)
	}
	if got := b.eval(`String(document.querySelectorAll('#detail button[data-action="renew"]').length + ' ' + document.querySelector('#csr-flow summary').textContent + ' ' + document.querySelector('#csr-flow').dataset.pending)`); got != "0 Create a certificate without a Mac false" {
		t.Errorf("after the renewal: %q, want no Renew offer, the flow under its plain name and no pending request", got)
	}
	rotation := b.poll("the audit row", `(() => { const r = document.querySelector('#audit-table tbody tr[data-action="rotate"]'); return r ? r.innerText : ''; })()`)
	if !strings.Contains(rotation, credential.FromSigningRequest) || !strings.Contains(rotation, before.APNs.FingerprintSHA256[:12]+" → "+after.APNs.FingerprintSHA256[:12]) {
		t.Errorf("rotation row = %q, want %q and old → new", rotation, credential.FromSigningRequest)
	}
	if got := b.eval(`(document.querySelector('#audit-table tbody tr[data-action="signing_request"]') || {}).innerText || ''`); !strings.Contains(got, "Made a signing request") || !strings.Contains(got, pending.KeyFingerprintSHA256[:12]) {
		t.Errorf("signing request row = %q", got)
	}

	// The same aps.cer again: no request is pending any more.
	b.do("open the flow", chromedp.Click(chromedp.CSS(`#csr-flow summary`)))
	b.do("upload aps.cer again",
		chromedp.SetUploadFiles(chromedp.CSS("#csr-cer"), []string{filepath.Join(files, "aps.cer")}),
		chromedp.Click(chromedp.CSS(`#csr-flow button[data-csr="upload"]`)))
	if got := b.poll("no pending request", `(() => { const e = document.getElementById('csr-hint-cer'); return e && !e.hidden ? e.textContent : ''; })()`); !strings.Contains(got, "no_pending_request") || !strings.Contains(got, "Create a signing request") {
		t.Errorf("the hint of a .cer without a pending request = %q", got)
	}
	if a := app(); a.Version != after.Version {
		t.Errorf("a .cer without a pending request changed the app: version %d -> %d", after.Version, a.Version)
	}

	// A second request, discarded.
	b.do("create another", chromedp.Click(chromedp.CSS(`#csr-flow button[data-csr="create"]`)))
	second := b.poll("the second pending request", `(() => { const p = document.querySelector('#csr-flow [data-csr-pending]'); return p ? p.dataset.csrPending : ''; })()`)
	// A new request replaces the pending one (after a confirmation).
	b.eval(`(window.confirm = () => true, '')`)
	b.do("make a new request", chromedp.Click(chromedp.CSS(`#csr-flow button[data-csr="create"]`)))
	third := b.poll("the third pending request", fmt.Sprintf(`(() => { const p = document.querySelector('#csr-flow [data-csr-pending]'); return p && p.dataset.csrPending !== %q ? p.dataset.csrPending : ''; })()`, second))
	if a := app(); a.Pending == nil || a.Pending.KeyFingerprintSHA256 != third {
		t.Errorf("after Make a new request the API's pending request is %+v, the page's %s", a.Pending, third)
	}
	b.do("discard it", chromedp.Click(chromedp.CSS(`#csr-flow button[data-csr="discard"]`)))
	b.poll("discarded", `(() => { const t = document.getElementById('csr-result'); return t && t.textContent.includes('Discarded') && !document.querySelector('#csr-flow [data-csr-pending]') ? 'yes' : ''; })()`)
	if a := app(); a.Pending != nil {
		t.Errorf("after Discard the API still shows a pending request: %+v", a.Pending)
	}
	if got := b.poll("discard row", `(() => { const r = document.querySelector('#audit-table tbody tr[data-action="discard_signing_request"]'); return r ? r.innerText : ''; })()`); !strings.Contains(got, "Discarded the signing request") {
		t.Errorf("discard row = %q", got)
	}

	// The keyboard reaches every control of the flow.
	if reached := b.tabThrough(`#csr-flow summary, #csr-flow button, #csr-flow input, #csr-flow a`, 400); reached != "" {
		t.Errorf("the keyboard does not reach: %s", reached)
	}
	if n, _ := strconv.Atoi(b.eval(`String(window.__want.length)`)); n < 6 {
		t.Errorf("only %d controls of the flow to reach", n)
	}

	// An expired certificate is offered the same flow, saying what has happened.
	b.do("the expired app", chromedp.Navigate(base+"/#/app/gone"))
	if got := b.poll("the expired app's flow", `(() => { const f = document.querySelector('#detail article.app[data-app="gone"] #csr-flow'); return f ? f.querySelector('summary').textContent + ' | ' + f.querySelector(':scope > .help-line').textContent : ''; })()`); !strings.HasPrefix(got, "Renew without a Mac | The certificate has expired") {
		t.Errorf("the expired app's flow = %q", got)
	}

	b.do("phone viewport", chromedp.EmulateViewport(390, 844), chromedp.Navigate(base+"/#/app/"+renewApp+"?renew=apns"), chromedp.Sleep(300*time.Millisecond))
	b.poll("the flow on a phone", `(() => { const f = document.getElementById('csr-flow'); return f && f.open ? 'yes' : ''; })()`)
	if fits := b.eval(`String(document.documentElement.scrollWidth <= window.innerWidth)`); fits != "true" {
		t.Errorf("at 390 px the flow is %s px wide", b.eval(`String(document.documentElement.scrollWidth)`))
	}
	b.screenshot("csr-flow-phone.png")
	updateDoc(t, "csr-flow.png", shot)
}

// waitFile waits up to 10 seconds for the browser to finish writing path.
func waitFile(t *testing.T, path string) []byte {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			return b
		}
	}
	t.Fatalf("no download at %s", path)
	return nil
}
