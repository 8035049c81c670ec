package main

import (
	"fmt"
	"io"
	"strings"

	"mobilepush/shared/certinfo"
	"mobilepush/shared/push"
)

// inspectCertificate inspects Apple's certificate paired with its key
// (--apns-cer with --key, for scripts that made their own signing
// request) or a PEM bundle (--apns-pem) with the checks of a .p12. Every
// error it returns is a usage error.
func inspectCertificate(a inspectArgs, in *certinfo.Inspector, stdin io.Reader) (*certinfo.Report, error) {
	for _, f := range []string{"key-id", "team-id"} {
		if a.set[f] {
			return nil, usageError{fmt.Sprintf("--%s applies only with --apns-p8", f)}
		}
	}
	if a.bundleID == "" {
		return nil, usageError{"--apns-cer and --apns-pem need --bundle-id"}
	}
	var env push.Environment
	if a.set["environment"] {
		e, err := push.ParseEnvironment(a.environment)
		if err != nil {
			return nil, usageError{fmt.Sprintf("--environment %q: want production or sandbox", a.environment)}
		}
		env = e
	}
	if a.set["apns-cer"] {
		if a.set["password"] || a.set["password-file"] {
			return nil, usageError{"--apns-cer takes an unencrypted --key; no password"}
		}
		if !a.set["key"] {
			return nil, usageError{"--apns-cer needs --key (the private key the signing request was made with)"}
		}
		if a.cer == "-" && a.key == "-" {
			return nil, usageError{"--apns-cer and --key cannot both be stdin"}
		}
		cer, err := readInput(a.cer, stdin)
		if err != nil {
			return nil, usageError{fmt.Sprintf("--apns-cer: %v", err)}
		}
		key, err := readInput(a.key, stdin)
		if err != nil {
			return nil, usageError{fmt.Sprintf("--key: %v", err)}
		}
		return in.Cer(cer, certinfo.CerRequest{Key: push.NewRedacted(key), BundleID: a.bundleID, Environment: env}), nil
	}
	pw := a.password
	if a.set["password-file"] {
		if a.pem == "-" && a.passwordFile == "-" {
			return nil, usageError{"--apns-pem and --password-file cannot both be stdin"}
		}
		b, err := readInput(a.passwordFile, stdin)
		if err != nil {
			return nil, usageError{fmt.Sprintf("--password-file: %v", err)}
		}
		pw = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	}
	data, err := readInput(a.pem, stdin)
	if err != nil {
		return nil, usageError{fmt.Sprintf("--apns-pem: %v", err)}
	}
	return in.PEMBundle(data, certinfo.P12Request{Password: pw, BundleID: a.bundleID, Environment: env}), nil
}
