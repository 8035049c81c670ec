// Command mintcred writes a set of made-up push credentials for demos and
// manual testing: an Apple-style push certificate as .p12 (and as the
// .cer alone, the most common upload mistake), an expired one, an APNs
// auth key (.p8) and a Firebase service-account key. Everything is
// minted fresh by a stand-in "Apple" authority that nothing trusts; none
// of it can reach Apple or Google.
//
//	mintcred -dir DIR [-bundle-id com.example.app] [-password demo]
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"mobilepush/shared/testcred"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(os.Stderr, "mintcred: %v\n", err)
		}
		os.Exit(2)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mintcred", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "directory to write the files into (created if missing)")
	bundle := fs.String("bundle-id", "com.example.app", "bundle id of the push certificate")
	password := fs.String("password", "demo", "password of the .p12 files")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		fs.Usage()
		return errors.New("-dir is required")
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return err
	}
	ca, err := testcred.AppleWWDR()
	if err != nil {
		return err
	}
	now := time.Now()
	valid, err := ca.IssuePush(testcred.PushCert{BundleID: *bundle})
	if err != nil {
		return err
	}
	expired, err := ca.IssuePush(testcred.PushCert{BundleID: *bundle, NotBefore: now.AddDate(-1, -1, 0), NotAfter: now.AddDate(0, -1, 0)})
	if err != nil {
		return err
	}
	p12, err := valid.P12(pkcs12.Modern2023, *password, true)
	if err != nil {
		return err
	}
	expiredP12, err := expired.P12(pkcs12.LegacyRC2, *password, true)
	if err != nil {
		return err
	}
	p8, err := testcred.NewP8()
	if err != nil {
		return err
	}
	sa, err := testcred.ServiceAccount{ProjectID: "example-project"}.Bytes()
	if err != nil {
		return err
	}
	files := []struct {
		name string
		data []byte
	}{
		{"push.p12", p12},
		{"push-expired.p12", expiredP12},
		{"push.cer", valid.Cert.Raw},
		{"AuthKey_ABC123DEFG.p8", p8},
		{"service-account.json", sa},
	}
	for _, f := range files {
		path := filepath.Join(*dir, f.name)
		if err := os.WriteFile(path, f.data, 0o600); err != nil {
			return err
		}
		fmt.Fprintln(stdout, path)
	}
	return nil
}
