package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"mobilepush/shared/boltstore"
	"mobilepush/shared/credential"
	"mobilepush/shared/push"
	"mobilepush/shared/testcred"
)

// getJSON GETs path of the API at base with token and decodes the answer
// into v: what the API says, to compare the page with.
func getJSON(t testing.TB, base, token, path string, v any) {
	t.Helper()
	if err := json.Unmarshal(apiGet(t, base, token, path), v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// apiGet GETs path of the API at base with token and returns the body
// of a 200 answer (any other status fails the test).
func apiGet(t testing.TB, base, token, path string) []byte {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d %s (%v)", path, res.StatusCode, b, err)
	}
	return b
}

// choose selects value in the <select> sel as a person does: the value
// changes and a change event fires.
func (b *browser) choose(sel, value string) {
	b.t.Helper()
	b.do("choose "+value+" in "+sel, chromedp.SetValue(chromedp.CSS(sel), value))
	b.eval(fmt.Sprintf(`(document.querySelector(%q).dispatchEvent(new Event('change')), '')`, sel))
}

// fleetSize is how many apps TestFleetBrowser and the page benchmark seed.
const fleetSize = 500

// seedFleet writes n apps in mixed states into the store of the data
// directory (before serve opens it), through the credential service:
// one minted certificate, .p8 key and service-account key are shared,
// the facts and states differ. Their due times are a year away, so the
// expiry check serve runs at start leaves the states as seeded.
func seedFleet(t testing.TB, data string, n int) {
	t.Helper()
	ca, err := testcred.AppleWWDR()
	if err != nil {
		t.Fatal(err)
	}
	id, err := ca.IssuePush(testcred.PushCert{BundleID: "com.brand.app"})
	if err != nil {
		t.Fatal(err)
	}
	chain, key, err := id.PEM()
	if err != nil {
		t.Fatal(err)
	}
	ec, err := testcred.ECKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	p8, err := testcred.P8(ec)
	if err != nil {
		t.Fatal(err)
	}
	sa, err := testcred.ServiceAccount{ProjectID: "brand-push"}.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	svc, done := seedService(t, data)
	defer done()
	now := time.Now().UTC()
	due := now.Add(400 * 24 * time.Hour)
	fp := func(i int, p string) string {
		s := sha256.Sum256([]byte(fmt.Sprint(p, i)))
		return hex.EncodeToString(s[:])
	}
	for i := range n {
		name := fmt.Sprintf("%s %03d", []string{"Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark"}[i%6], i)
		r := credential.CreateRequest{Tenant: "default", ID: fmt.Sprintf("app-%04d", i), Name: name, Enabled: i%9 != 0,
			Environment: push.Production, Description: "Rebranded app " + name, Actor: "seed"}
		if i%13 == 0 {
			r.Environment = push.Sandbox
		}
		bundle := fmt.Sprintf("com.brand%03d.app", i)
		apns := &credential.Upload{Material: credential.Material{Kind: push.APNsP12, CertificateChainPEM: push.NewRedacted(chain), PrivateKeyPEM: push.NewRedacted(key)},
			Facts: credential.Facts{FingerprintSHA256: fp(i, "apns"), BundleID: bundle, Topics: []string{bundle}, Environment: "both", TeamID: "ABCDE12345",
				NotBefore: now.Add(-200 * 24 * time.Hour), NotAfter: now.Add(time.Duration(40+(i*37)%320)*24*time.Hour + time.Hour)},
			Status: credential.Status{State: credential.OK}, DueAt: due}
		switch i % 10 {
		case 0:
			apns.Facts.NotAfter = now.Add(-time.Duration(1+i%20) * 24 * time.Hour)
			apns.Status = credential.Status{State: credential.Expired, Reason: "expired", Message: "The certificate expired."}
		case 1:
			apns.Facts.NotAfter = now.Add(time.Duration(2+i%27)*24*time.Hour + time.Hour)
			apns.Status = credential.Status{State: credential.Expiring, Reason: "expiring_soon", Message: "The certificate expires soon."}
		case 2:
			apns.Status = credential.Status{State: credential.Invalid, Reason: "certificate_rejected", Message: "Apple rejected the certificate."}
		case 3:
			apns = nil
		case 4:
			apns.Material = credential.Material{Kind: push.APNsP8, PrivateKeyPEM: push.NewRedacted(p8), KeyID: "KEY1234567", TeamID: "ABCDE12345"}
			apns.Facts = credential.Facts{FingerprintSHA256: fp(i, "p8"), BundleID: bundle, Topics: []string{bundle}, KeyID: "KEY1234567", TeamID: "ABCDE12345"}
		}
		r.APNs = apns
		if i%7 != 1 {
			r.FCM = &credential.Upload{Material: credential.Material{Kind: push.FCMJSON, ServiceAccountJSON: push.NewRedacted(sa)},
				Facts:  credential.Facts{FingerprintSHA256: fp(i, "fcm"), ProjectID: fmt.Sprintf("brand%03d-push", i), ClientEmail: "push@brand.iam.gserviceaccount.com", PrivateKeyID: "k1"},
				Status: credential.Status{State: credential.OK}, DueAt: due}
			if i%7 == 0 {
				r.FCM.Status = credential.Status{State: credential.Suspended, Reason: "permission_denied", Message: "Sending hit a credential fault."}
			}
		}
		if _, err := svc.Create(context.Background(), r); err != nil {
			t.Fatalf("seed app %d: %v", i, err)
		}
	}
}

// seedService opens the store of the data directory data (before serve
// does) and returns the credential service over it, and the func that
// closes the store (serve cannot open it before).
func seedService(t testing.TB, data string) (*credential.Service, func()) {
	t.Helper()
	st, err := boltstore.Open(filepath.Join(data, "data.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return credential.NewService(credential.Config{Meta: st, Secrets: st}), func() { st.Close() }
}

type fleetSummary struct {
	Apps      int            `json:"apps"`
	Attention int            `json:"attention"`
	States    map[string]int `json:"states"`
	Next      []struct {
		AppID string `json:"app_id"`
	} `json:"next_expiries"`
}

type fleetList struct {
	Apps []struct {
		ID string `json:"id"`
	} `json:"apps"`
	Total int    `json:"total"`
	Next  string `json:"next_cursor"`
}

func (l fleetList) ids() string {
	var ids []string
	for _, a := range l.Apps {
		ids = append(ids, a.ID)
	}
	return strings.Join(ids, " ")
}

// rowIDs is what the fleet table shows: the app ids of its rows, in order.
const rowIDs = `Array.from(document.querySelectorAll('#fleet-rows tr')).map((r) => r.dataset.app).join(' ')`

// TestFleetBrowser drives the fleet view over 500 apps in mixed states in
// headless Chromium: the attention counts are the API's, search, the
// state and platform filters, the sort and the paging show the rows the
// API lists, a shared link opens the same view, the timeline draws one
// mark per expiry and a mark opens its app, the keyboard reaches every
// control, nothing logs an error, and nothing is wider than a 390 px
// phone. With UPDATE_SCREENSHOT=1 the fleet view goes to docs/fleet-view.png.
func TestFleetBrowser(t *testing.T) {
	chrome := findChromium(t)
	base, token, _ := startServerSeeded(t, func(data string) { seedFleet(t, data, fleetSize) })
	b := newBrowser(t, chrome)

	var sum fleetSummary
	getJSON(t, base, token, "/v1/summary", &sum)
	if sum.Apps != fleetSize || sum.States["expired"] != fleetSize/10 || sum.States["suspended"] == 0 || sum.Attention == 0 {
		t.Fatalf("the API's summary = %+v, not the seeded fleet", sum)
	}
	var year fleetSummary
	getJSON(t, base, token, "/v1/summary?horizon_days=365", &year)
	// waitRows waits until the table shows the first page the API lists for query.
	waitRows := func(step, query string) fleetList {
		t.Helper()
		var want fleetList
		getJSON(t, base, token, "/v1/apps?limit=100&"+query, &want)
		got := b.poll(step, fmt.Sprintf(`(() => { const r = %s; return r === %q ? r || 'none' : ''; })()`, rowIDs, want.ids()))
		if got == "" {
			t.Fatalf("%s: rows differ from the API's", step)
		}
		if shown := b.eval(`document.getElementById('fleet-table').dataset.total`); shown != fmt.Sprint(want.Total) {
			t.Errorf("%s: the page counts %s apps, the API %d", step, shown, want.Total)
		}
		return want
	}

	b.do("sign in",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS("#token-input")),
		chromedp.SendKeys(chromedp.CSS("#token-input"), token),
		chromedp.Click(chromedp.CSS("#token-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#fleet-table")),
	)
	first := waitRows("the first page, needs attention first", "")
	if !strings.HasPrefix(first.ids(), "app-0000 ") {
		t.Errorf("attention order starts with %.40s, want the expired app-0000", first.ids())
	}
	// The attention bar: every count is the API's.
	for _, st := range []string{"expired", "expiring", "invalid", "suspended"} {
		got := b.eval(fmt.Sprintf(`(document.querySelector('#attention [data-count=%q] b') || {}).textContent || ''`, st))
		if got != fmt.Sprint(sum.States[st]) {
			t.Errorf("attention bar %s = %q, the API says %d", st, got, sum.States[st])
		}
	}
	if got := b.eval(`document.querySelector('#attention [data-count="attention"] b').textContent`); got != fmt.Sprint(sum.Attention) {
		t.Errorf("attention bar: %s need attention, the API says %d", got, sum.Attention)
	}
	// The timeline: one mark per expiry in the next 12 months.
	if got := b.eval(`String(document.querySelectorAll('#timeline svg a.mark').length)`); got != fmt.Sprint(len(year.Next)) || len(year.Next) == 0 {
		t.Errorf("timeline marks = %s, the API lists %d expiries within a year", got, len(year.Next))
	}
	if got := b.eval(`String(new Set(Array.from(document.querySelectorAll('#timeline svg a.mark')).map((m) => m.getAttribute('class'))).size)`); got < "3" {
		t.Errorf("timeline marks use %s threshold colours, want several", got)
	}
	b.eval(`(window.scrollTo(0, 0), '')`)
	shot := b.viewShot("fleet-view.png")

	// Each count of the attention bar is a filter, kept in the fragment.
	b.do("filter by a count", chromedp.Click(chromedp.CSS(`#attention [data-count="expired"]`)))
	waitRows("expired apps", "status=expired")
	if h := b.eval(`location.hash`); h != "#/apps?status=expired" {
		t.Errorf("fragment = %q, want #/apps?status=expired", h)
	}
	b.choose("#f-platform", "fcm")
	b.choose("#f-status", "suspended")
	b.choose("#f-sort", "name")
	suspended := waitRows("suspended on FCM, by name", "status=suspended&platform=fcm&sort=name")
	if len(suspended.Apps) == 0 {
		t.Error("no app is suspended on FCM")
	}
	b.choose("#f-sort", "days_left")
	waitRows("suspended on FCM, soonest expiry first", "status=suspended&platform=fcm&sort=days_left")

	// Search is the server's q, debounced.
	b.choose("#f-status", "")
	b.choose("#f-platform", "")
	b.do("search", chromedp.SendKeys(chromedp.CSS("#f-q"), "BRAND12"))
	waitRows("search by bundle id", "q=BRAND12&sort=days_left")
	b.eval(`(document.getElementById('f-q').value = '', document.getElementById('f-q').dispatchEvent(new Event('input')), '')`)
	waitRows("search cleared", "sort=days_left")
	b.choose("#f-status", "ok")
	b.choose("#f-sort", "name")
	okPage := waitRows("OK apps by name", "status=ok&sort=name")
	if okPage.Next == "" {
		t.Fatal("the OK apps fit one page: no paging to test")
	}
	b.do("show more", chromedp.Click(chromedp.CSS("#more")))
	var second fleetList
	getJSON(t, base, token, "/v1/apps?limit=100&status=ok&sort=name&cursor="+url.QueryEscape(okPage.Next), &second)
	if got := b.poll("the second page appended", fmt.Sprintf(`(() => { const r = %s; return r === %q ? r : ''; })()`, rowIDs, okPage.ids()+" "+second.ids())); got == "" {
		t.Error("the rows after Show more are not the API's two pages")
	}

	// A shared link opens the same view.
	b.do("open a shared link", chromedp.Navigate(base+"/#/apps?status=invalid,expired&sort=name"))
	waitRows("the shared view", "status=invalid,expired&sort=name")
	if got := b.eval(`document.getElementById('f-sort').value + ' ' + document.getElementById('f-status').value`); got != "name invalid,expired" {
		t.Errorf("the controls of the shared view = %q", got)
	}

	// The keyboard reaches every control of the fleet view.
	b.do("back to all apps", chromedp.Navigate(base+"/#/apps"))
	waitRows("all apps", "")
	reached := b.tabThrough(`#nav a, #attention button, #reload, #view-apps a[href="#/new"], #timeline a.mark, #f-q, #f-status, #f-platform, #f-sort, #fleet-rows a, #more, #change-token`, 2000)
	if reached != "" {
		t.Errorf("the keyboard does not reach: %s", reached)
	}
	if n := b.eval(`String(window.__want.length)`); n < "4" || len(n) < 3 {
		t.Errorf("only %s controls to reach: the selector matched too little", n)
	}

	// A mark of the timeline opens its app.
	mark := b.eval(`document.querySelector('#timeline svg a.mark').dataset.app`)
	b.eval(`(document.querySelector('#timeline svg a.mark').dispatchEvent(new MouseEvent('click', {bubbles: true, cancelable: true, view: window})), '')`)
	if got := b.poll("the app of the mark", `(() => { const a = document.querySelector('#detail article.app'); return a ? a.dataset.app : ''; })()`); got != mark {
		t.Errorf("the mark of %s opened %s", mark, got)
	}
	b.do("phone viewport", chromedp.EmulateViewport(390, 844))
	for _, view := range []string{"#/app/" + mark, "#/new", "#/apps"} {
		b.do("phone: "+view, chromedp.Navigate(base+"/"+view), chromedp.Sleep(300*time.Millisecond))
		if fits := b.eval(`String(document.documentElement.scrollWidth <= window.innerWidth)`); fits != "true" {
			t.Errorf("at 390 px %s is %s px wide", view, b.eval(`String(document.documentElement.scrollWidth)`))
		}
	}
	b.eval(`(window.scrollTo(0, 0), "")`)
	b.viewShot("fleet-view-phone.png")
	updateDoc(t, "fleet-view.png", shot)
}

// tabThrough presses Tab up to max times from the top of the page and
// returns the selectors of the controls (matching sel, visible) that
// focus never reached, "" when it reached them all.
func (b *browser) tabThrough(sel string, max int) string {
	b.t.Helper()
	b.eval(fmt.Sprintf(`(window.__reach = new Set(), window.__want = Array.from(document.querySelectorAll(%q)).filter((e) => e.getClientRects().length),
		document.activeElement && document.activeElement.blur(), document.addEventListener('focusin', (ev) => window.__reach.add(ev.target)), '')`, sel))
	for i := 0; i < max; i += 50 {
		acts := make([]chromedp.Action[chromedp.Void], 50)
		for j := range acts {
			acts[j] = chromedp.KeyEvent(kb.Tab)
		}
		b.do("tab", acts...)
		if b.eval(`String(window.__want.every((e) => window.__reach.has(e)))`) == "true" {
			return ""
		}
	}
	return b.eval(`window.__want.filter((e) => !window.__reach.has(e)).slice(0, 10).map((e) => e.id || e.getAttribute('href') || e.textContent).join(', ')`)
}

// viewShot saves a PNG of the viewport (not the whole page).
func (b *browser) viewShot(name string) []byte {
	b.t.Helper()
	return b.shoot(name, chromedp.CaptureScreenshot())
}

// elementShot saves a PNG of the element sel.
func (b *browser) elementShot(name, sel string) []byte {
	b.t.Helper()
	return b.shoot(name, chromedp.Screenshot(chromedp.CSS(sel)))
}

// shoot runs the screenshot action shot within 15 seconds and saves its
// PNG as name in the screenshot directory.
func (b *browser) shoot(name string, shot chromedp.Action[[]byte]) []byte {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, shot)
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(b.dir, name), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	return png
}

// BenchmarkFleetPage measures the first render of the fleet view over 500
// apps in headless Chromium: from navigation start until the attention
// bar, the timeline's marks and the first 100 rows are on the page
// (performance.now() in the page, "ms-render"), and beside it the same
// page's two API calls (GET /v1/summary?horizon_days=365 and GET
// /v1/apps?limit=100) fetched from the page alone, "ms-api";
// "x-api" is their ratio. The browser, the server and the benchmark share
// the machine.
func BenchmarkFleetPage(b *testing.B) {
	chrome := findChromium(b)
	base, token, _ := startServerSeeded(b, func(data string) { seedFleet(b, data, fleetSize) })
	br := newBrowser(b, chrome)
	br.do("sign in",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS("#token-input")),
		chromedp.SendKeys(chromedp.CSS("#token-input"), token),
		chromedp.Click(chromedp.CSS("#token-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#fleet-rows tr")),
	)
	ready := `(() => document.querySelectorAll('#fleet-rows tr').length === 100 && document.querySelector('#timeline svg a.mark') &&
		document.querySelector('#attention [data-count="expired"]') ? String(performance.now()) : '')()`
	var render, calls float64
	n := 0
	for b.Loop() {
		n++
		br.do("reload", chromedp.Navigate(fmt.Sprintf("%s/?load=%d#/apps", base, n)))
		var ms float64
		fmt.Sscan(br.poll("first render", ready), &ms)
		render += ms
		ctx, cancel := context.WithTimeout(br.ctx, 15*time.Second)
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(async () => {
			const h = { Authorization: 'Bearer ' + sessionStorage.getItem('mobilepush.token') };
			const t0 = performance.now();
			await Promise.all(['/v1/summary?horizon_days=365', '/v1/apps?limit=100'].map((u) => fetch(u, { headers: h, cache: 'no-store' }).then((r) => r.text())));
			return String(performance.now() - t0);
		})()`, chromedp.EvalAwaitPromise))
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		var api float64
		fmt.Sscan(got, &api)
		calls += api
	}
	b.ReportMetric(render/float64(n), "ms-render")
	b.ReportMetric(calls/float64(n), "ms-api")
	b.ReportMetric(render/calls, "x-api")
}
