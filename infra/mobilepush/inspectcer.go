package main

import (
	"fmt"
	"io"

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
	env, err := a.environmentArg()
	if err != nil {
		return nil, err
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
		cer, err := readArg("apns-cer", a.cer, stdin)
		if err != nil {
			return nil, err
		}
		key, err := readArg("key", a.key, stdin)
		if err != nil {
			return nil, err
		}
		return in.Cer(cer, certinfo.CerRequest{Key: push.NewRedacted(key), BundleID: a.bundleID, Environment: env}), nil
	}
	if a.set["password-file"] && a.pem == "-" && a.passwordFile == "-" {
		return nil, usageError{"--apns-pem and --password-file cannot both be stdin"}
	}
	data, req, err := a.p12Input("apns-pem", a.pem, env, stdin)
	if err != nil {
		return nil, err
	}
	return in.PEMBundle(data, req), nil
}
