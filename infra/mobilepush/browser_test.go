package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"mobilepush/shared/testcred"
)

// TestAdminPageBrowser drives the admin page of `mobilepush serve
// --fake-gateways` in headless Chromium: it enters the token,
// registers an app with a certificate and a service-account key minted
// now and sees status ok with the days left, uploads a wrong password and
// sees the hint next to the password field, uploads a google-services.json
// and sees that it is the app's client configuration, exercises the app
// actions, checks phone width, and fails on any console error or uncaught
// exception. Screenshots go to the test's temp directory (or to
// $BROWSER_TEST_ARTIFACTS when set); with UPDATE_SCREENSHOT=1 the desktop
// one is also copied to docs/admin-page.png.
//
// It also enqueues a push through the message form and sees both tokens
// counted as delivered (killing serve while it sends is
// TestServeKillRestartLosesNothing).
func TestAdminPageBrowser(t *testing.T) {
	chrome := findChromium(t)
	base, token, _ := startServer(t)
	files := t.TempDir()

	// Credentials minted now, so the expiry is relative to today.
	ca, err := testcred.AppleWWDR()
	if err != nil {
		t.Fatal(err)
	}
	p12, id := mintP12(t, "com.example.shop", "s3cret")
	sa, err := testcred.ServiceAccount{ProjectID: "shop-push"}.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	p12Path := writeFile(t, files, "Certificates.p12", p12)
	saPath := writeFile(t, files, "shop-push-firebase-adminsdk.json", sa)
	gsPath := writeFile(t, files, "google-services.json", googleServicesJSON(t))
	renewed, err := ca.IssuePush(testcred.PushCert{BundleID: "com.example.shop", NotAfter: time.Now().Add(90 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	renewedP12, err := renewed.P12(pkcs12.Modern2023, "renewed", true)
	if err != nil {
		t.Fatal(err)
	}
	renewedPath := writeFile(t, files, "Renewed.p12", renewedP12)

	b := newBrowser(t, chrome)
	daysBefore := daysLeft(id.Cert.NotAfter)

	b.do("open the page",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS("#token-input")),
	)
	b.screenshot("admin-page-token.png")
	b.do("submit the token",
		chromedp.SendKeys(chromedp.CSS("#token-input"), token),
		chromedp.Click(chromedp.CSS("#token-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#fleet-table")),
	)
	b.do("open the registration view",
		chromedp.Click(chromedp.CSS(`#nav a[data-nav="new"]`)),
		chromedp.WaitVisible(chromedp.CSS("#app-form")),
	)
	if stored := b.eval(`sessionStorage.getItem("mobilepush.token")`); stored != token {
		t.Errorf("sessionStorage token = %q, want the entered token", stored)
	}

	b.do("register an app with a .p12 and a service-account key",
		chromedp.SendKeys(chromedp.CSS("#app-name"), "Shop"),
		chromedp.SendKeys(chromedp.CSS("#app-description"), "Rebranded shop app for ACME"),
		chromedp.SendKeys(chromedp.CSS("#apns-bundle"), "com.example.shop"),
		chromedp.SetUploadFiles(chromedp.CSS("#apns-p12"), []string{p12Path}),
		chromedp.SendKeys(chromedp.CSS("#apns-password"), "s3cret"),
		chromedp.SetUploadFiles(chromedp.CSS("#fcm-file"), []string{saPath}),
		chromedp.Click(chromedp.CSS("#save")),
	)
	b.poll("the link to the saved app", `(() => { const e = document.getElementById('open-saved'); return e ? e.textContent : ''; })()`)
	if res := b.eval(`document.getElementById('form-result').textContent`); !strings.Contains(res, "Saved “Shop”") {
		t.Errorf("form result = %q, want the saved message", res)
	}
	appsStored := func() int { // what the API lists, read beside the page
		t.Helper()
		var list struct{ Total int }
		getJSON(t, base, token, "/v1/apps", &list)
		return list.Total
	}

	// Each rejected upload shows its hint next to the field it concerns.
	type expect struct {
		hint     string // id of the hint element
		input    string // id of the input it belongs to, marked aria-invalid
		contains []string
	}
	wrongPassword := expect{"hint-apns-password", "apns-password", []string{"password does not open", "wrong_password"}}
	clientConfig := expect{"hint-fcm", "fcm-file", []string{"google-services.json", "client configuration", "wrong_type"}}
	rejections := []struct {
		name   string
		fill   []chromedp.Action[chromedp.Void]
		submit string
		expect []expect
	}{
		{
			name: "wrong password",
			fill: []chromedp.Action[chromedp.Void]{
				chromedp.SendKeys(chromedp.CSS("#app-name"), "Shop (typo)"),
				chromedp.SendKeys(chromedp.CSS("#apns-bundle"), "com.example.shop"),
				chromedp.SetUploadFiles(chromedp.CSS("#apns-p12"), []string{p12Path}),
				chromedp.SendKeys(chromedp.CSS("#apns-password"), "S3cret"),
			},
			submit: "#save", expect: []expect{wrongPassword},
		},
		{
			name: "both files checked without saving",
			fill: []chromedp.Action[chromedp.Void]{
				chromedp.SendKeys(chromedp.CSS("#apns-bundle"), "com.example.shop"),
				chromedp.SetUploadFiles(chromedp.CSS("#apns-p12"), []string{p12Path}),
				chromedp.SendKeys(chromedp.CSS("#apns-password"), "wrong"),
				chromedp.SetUploadFiles(chromedp.CSS("#fcm-file"), []string{gsPath}),
			},
			submit: "#check-only", expect: []expect{wrongPassword, clientConfig},
		},
		{
			name: "both platforms fail on save: both shown",
			fill: []chromedp.Action[chromedp.Void]{
				chromedp.SendKeys(chromedp.CSS("#app-name"), "Shop (both wrong)"),
				chromedp.SendKeys(chromedp.CSS("#apns-bundle"), "com.example.shop"),
				chromedp.SetUploadFiles(chromedp.CSS("#apns-p12"), []string{p12Path}),
				chromedp.SendKeys(chromedp.CSS("#apns-password"), "wrong"),
				chromedp.SetUploadFiles(chromedp.CSS("#fcm-file"), []string{gsPath}),
			},
			submit: "#save", expect: []expect{wrongPassword, clientConfig},
		},
		{
			name: "google-services.json instead of the service-account key",
			fill: []chromedp.Action[chromedp.Void]{
				chromedp.SendKeys(chromedp.CSS("#app-name"), "Shop Android"),
				chromedp.SetUploadFiles(chromedp.CSS("#fcm-file"), []string{gsPath}),
			},
			submit: "#save", expect: []expect{clientConfig},
		},
	}
	for _, r := range rejections {
		steps := append([]chromedp.Action[chromedp.Void]{chromedp.Click(chromedp.CSS("#app-form button[type=reset]"))}, r.fill...)
		b.do(r.name, append(steps, chromedp.Click(chromedp.CSS(r.submit)))...)
		for _, e := range r.expect {
			got := b.poll(r.name+": #"+e.hint, fmt.Sprintf(`(() => {
				const e = document.getElementById(%q);
				return e && !e.hidden && e.textContent.includes(%q) ? e.textContent : '';
			})()`, e.hint, e.contains[0]))
			for _, want := range e.contains {
				if !strings.Contains(got, want) {
					t.Errorf("%s: hint %q lacks %q", r.name, got, want)
				}
			}
			next := b.eval(fmt.Sprintf(`String(document.getElementById(%q).parentElement.contains(document.getElementById(%q)) &&
				document.getElementById(%q).getAttribute('aria-invalid'))`, e.hint, e.input, e.input))
			if next != "true" {
				t.Errorf("%s: #%s is not next to #%s, or the input is not marked aria-invalid (%s)", r.name, e.hint, e.input, next)
			}
		}
		if n := appsStored(); n != 1 {
			t.Errorf("%s: %d apps stored, want 1: a rejected upload stores nothing", r.name, n)
		}
	}

	// The state the README shows: a registered app and a failed check.
	shot := b.screenshot("admin-page.png")
	updateDoc(t, "admin-page.png", shot)

	// The app's view, from its row in the fleet table.
	b.do("open the app from the list",
		chromedp.Click(chromedp.CSS(`#nav a[data-nav="apps"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#fleet-rows tr a.app-link`)),
		chromedp.Click(chromedp.CSS(`#fleet-rows tr a.app-link`)),
	)
	card := `#detail article.app `
	apnsBadge := b.poll("the APNs badge of the new app", `(() => {
		const e = document.querySelector('#detail article.app [data-platform="apns"] .badge[data-status="ok"]');
		return e ? e.textContent : '';
	})()`)
	daysAfter := daysLeft(id.Cert.NotAfter)
	if !strings.Contains(apnsBadge, fmt.Sprintf("OK · %d days left", daysBefore)) && !strings.Contains(apnsBadge, fmt.Sprintf("OK · %d days left", daysAfter)) {
		t.Errorf("APNs badge = %q, want OK with %d days left", apnsBadge, daysBefore)
	}
	if fcm := b.eval(`document.querySelector('#detail article.app [data-platform="fcm"] .badge').textContent`); !strings.Contains(fcm, "OK") {
		t.Errorf("FCM badge = %q, want OK", fcm)
	}
	appHash := b.eval(`location.hash`)
	if !strings.HasPrefix(appHash, "#/app/") {
		t.Errorf("the app's view is at %q, want #/app/ID", appHash)
	}

	// The actions of the app's view, against the real API.
	b.do("send a test push",
		chromedp.Click(chromedp.CSS(card+`button[data-action="test-push"]`)),
		chromedp.WaitVisible(chromedp.CSS("#push-dialog")),
		chromedp.SendKeys(chromedp.CSS("#push-token"), strings.Repeat("ab", 32)),
		chromedp.Click(chromedp.CSS("#push-form button[type=submit]")),
	)
	pushed := b.poll("test push answer", `(() => { const t = document.getElementById('push-result').textContent; return /HTTP \d{3}/.test(t) ? t : ''; })()`)
	t.Logf("test push: %s", pushed)
	b.do("close the test push dialog", chromedp.Click(chromedp.CSS(`#push-dialog [data-close]`)))

	// Enqueue a push through the page (POST /v1/messages) and watch the
	// worker deliver it (GET /v1/messages/{id}): the fake APNs accepts
	// any well-formed token.
	b.do("enqueue a message",
		chromedp.Click(chromedp.CSS(`#nav a[data-nav="send"]`)),
		chromedp.WaitVisible(chromedp.CSS("#message-form")),
	)
	b.poll("the app offered in the message form", `document.querySelectorAll('#msg-app option').length === 1 ? 'yes' : ''`)
	b.do("fill in the message",
		chromedp.SetValue(chromedp.CSS("#msg-platform"), "apns"),
		chromedp.SendKeys(chromedp.CSS("#msg-tokens"), strings.Repeat("ab", 32)+"\n"+strings.Repeat("cd", 32)),
		chromedp.SendKeys(chromedp.CSS("#msg-title"), "Order shipped"),
		chromedp.SendKeys(chromedp.CSS("#msg-body"), "Your order is on its way."),
		chromedp.SendKeys(chromedp.CSS("#msg-link"), "app://orders/42"),
		chromedp.Click(chromedp.CSS("#msg-send")),
	)
	counted := b.poll("the message counted as delivered", `(() => {
		const s = document.getElementById('msg-state');
		const d = document.querySelector('#msg-counts [data-count="delivered"]');
		return s && s.dataset.state === 'done' && d.textContent === '2' ? document.getElementById('message-status').innerText : '';
	})()`)
	if !strings.Contains(counted, "Delivered") {
		t.Errorf("message status = %q", counted)
	}
	if res := b.eval(`document.getElementById('message-result').textContent`); !strings.Contains(res, "2 of 2 delivered") {
		t.Errorf("message result = %q, want 2 of 2 delivered", res)
	}

	b.do("back to the app", chromedp.Navigate(base+"/"+appHash), chromedp.WaitVisible(chromedp.CSS(card+`button[data-action="validate"]`)))
	b.do("re-validate", chromedp.Click(chromedp.CSS(card+`button[data-action="validate"]`)))
	b.poll("re-validate result", `(() => { const t = document.getElementById('detail-result').textContent; return t.includes('Re-validated') ? t : ''; })()`)

	b.do("replace the APNs certificate",
		chromedp.Click(chromedp.CSS(card+`[data-platform="apns"] button[data-action="rotate"]`)),
		chromedp.WaitVisible(chromedp.CSS("#rotate-dialog")),
		chromedp.SetUploadFiles(chromedp.CSS("#r-apns-p12"), []string{renewedPath}),
		chromedp.SendKeys(chromedp.CSS("#r-apns-password"), "renewed"),
		chromedp.Click(chromedp.CSS("#rotate-form button[type=submit]")),
	)
	b.poll("replaced", `(() => { const t = document.getElementById('detail-result').textContent; return t.includes('Replaced') && !document.getElementById('rotate-dialog').open ? t : ''; })()`)
	if got := b.eval(`document.querySelector('#detail article.app [data-platform="apns"] .badge').textContent`); !strings.Contains(got, fmt.Sprintf("%d days left", daysLeft(renewed.Cert.NotAfter))) {
		t.Errorf("after the rotation the APNs badge = %q, want %d days left", got, daysLeft(renewed.Cert.NotAfter))
	}
	b.do("roll back", chromedp.Click(chromedp.CSS(card+`[data-platform="apns"] button[data-action="rollback"]`)))
	b.poll("rolled back", `(() => { const t = document.getElementById('detail-result').textContent; return t.includes('Rolled back') ? t : ''; })()`)

	b.do("disable push (PATCH with If-Match)", chromedp.Click(chromedp.CSS(card+`button[data-action="toggle"]`)))
	b.poll("disabled pill", `(() => { const e = document.querySelector('#detail article.app .pill-off'); return e ? e.textContent : ''; })()`)

	// The audit trail is on the app's view: one row per action, newest first.
	audit := b.poll("audit rows", `(() => {
		const r = Array.from(document.querySelectorAll('#audit-table tbody tr'));
		return r.some((e) => e.dataset.action === 'update') ? r.map((e) => e.dataset.action).join(' ') : '';
	})()`)
	for _, want := range []string{"create", "rotate", "rollback", "update", "validate"} {
		if !strings.Contains(" "+audit+" ", " "+want+" ") {
			t.Errorf("audit trail lacks %q: %s", want, audit)
		}
	}
	if got := b.eval(`Array.from(document.querySelectorAll('#audit-table tbody tr[data-action="validate"]')).map((r) => r.innerText).join('|')`); strings.Contains(got, "→") || !strings.Contains(got, "ok") {
		t.Errorf("re-validation rows = %q, want a result and no old → new", got)
	}
	if got := b.eval(`document.querySelector('#audit-table tbody tr[data-action="rollback"]').innerText`); !strings.Contains(got, "→") {
		t.Errorf("rollback row = %q, want old → new fingerprint", got)
	}
	b.choose("#a-action", "rotate,rollback")
	filtered := b.poll("filtered audit rows", `(() => {
		const r = Array.from(document.querySelectorAll('#audit-table tbody tr'));
		return r.length && r.every((e) => ['rotate', 'rollback'].includes(e.dataset.action)) ? r.map((e) => e.dataset.action).join(' ') : '';
	})()`)
	if filtered != "rollback rotate" {
		t.Errorf("rotations and rollbacks = %q, want the rollback and the rotation, newest first", filtered)
	}

	// Phone width: nothing wider than the screen.
	b.do("phone viewport", chromedp.EmulateViewport(390, 844))
	if fits := b.eval(`String(document.documentElement.scrollWidth <= window.innerWidth)`); fits != "true" {
		t.Errorf("at 390 px the page is %s px wide", b.eval(`String(document.documentElement.scrollWidth)`))
	}
	b.screenshot("admin-page-phone.png")
}

// browser is one headless Chromium tab with the console watched.
type browser struct {
	t   testing.TB
	ctx context.Context
	dir string // screenshots

	mu       sync.Mutex
	problems []string
}

// newBrowser starts headless Chromium at path with a fresh profile. Every
// console error, uncaught exception and error entry of the browser log
// (except the API's expected 4xx answers) is recorded as a problem, and
// each step fails the test when one appeared.
func newBrowser(t testing.TB, path string) *browser {
	t.Helper()
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1200, 900),
	)
	b := &browser{t: t, dir: t.TempDir()}
	if keep := os.Getenv("BROWSER_TEST_ARTIFACTS"); keep != "" { // e.g. for CI artifacts
		b.dir = keep
		if err := os.MkdirAll(keep, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := chromedp.NewContext(alloc, chromedp.WithListener(b.watch))
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // start the browser (no timeout on this first run)
		t.Fatalf("start chromium %s: %v", path, err)
	}
	b.ctx = ctx
	return b
}

func (b *browser) watch(ev any) {
	var p string
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range ev.Args {
				if a.Description != "" {
					args = append(args, a.Description)
				} else {
					args = append(args, string(a.Value))
				}
			}
			p = "console." + string(ev.Type) + ": " + strings.Join(args, " ")
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		p = "uncaught exception: " + d.Text
		if d.Exception != nil {
			p += " " + d.Exception.Description
		}
		p += fmt.Sprintf(" at %s:%d", d.URL, d.LineNumber)
	case *log.EventEntryAdded:
		e := ev.Entry
		// The API answers 4xx on purpose (a rejected upload is a 422);
		// Chromium logs each as a network error. Anything else counts.
		if e.Level == log.EntryLevelError && (e.Source != "network" || !strings.Contains(e.URL, "/v1/")) {
			p = fmt.Sprintf("browser log (%s): %s %s", e.Source, e.Text, e.URL)
		}
	}
	if p != "" {
		b.mu.Lock()
		b.problems = append(b.problems, p)
		b.mu.Unlock()
	}
}

// check fails the test when the page logged an error since the last check.
func (b *browser) check(step string) {
	b.t.Helper()
	b.mu.Lock()
	ps := b.problems
	b.problems = nil
	b.mu.Unlock()
	for _, p := range ps {
		b.t.Errorf("%s: %s", step, p)
	}
	if len(ps) > 0 {
		b.t.FailNow()
	}
}

// do runs the actions of one step within 15 seconds, then checks the console.
func (b *browser) do(step string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.fail(step, err)
	}
	b.check(step)
}

// poll waits up to 10 seconds until the JavaScript expression returns a
// non-empty string, and returns it.
func (b *browser) poll(step, expr string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Poll[string](expr, chromedp.WithPollingTimeout(10*time.Second), chromedp.WithPollingInterval(50*time.Millisecond)))
	if err != nil {
		b.fail(step, err)
	}
	b.check(step)
	return v
}

// eval returns the string value of a JavaScript expression.
func (b *browser) eval(expr string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		b.fail("evaluate "+expr, err)
	}
	return v
}

// screenshot saves a full-page PNG into the screenshot directory and
// returns it.
func (b *browser) screenshot(name string) []byte {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(b.dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", path)
	return png
}

// fail ends the test with what the page showed, to see why a step failed.
func (b *browser) fail(step string, err error) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ''`))
	if png, serr := chromedp.Run(ctx, chromedp.FullScreenshot(100)); serr == nil {
		_ = os.WriteFile(filepath.Join(b.dir, "failure.png"), png, 0o644)
		b.t.Logf("failure screenshot: %s", filepath.Join(b.dir, "failure.png"))
	}
	b.check(step)
	b.t.Fatalf("%s: %v\npage text:\n%s", step, err, text)
}
