package testcred

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
)

// P8 returns key as an Apple .p8 auth key file: PKCS#8 PEM
// ("BEGIN PRIVATE KEY"), as Apple's developer portal serves it.
func P8(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("testcred: p8: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// NewP8 returns a new Apple .p8 auth key file with a fresh P-256 key.
func NewP8() ([]byte, error) {
	k, err := ECKey(nil)
	if err != nil {
		return nil, err
	}
	return P8(k)
}

// ServiceAccount describes a Firebase service-account key file. Zero
// values get Google's defaults.
type ServiceAccount struct {
	ProjectID      string // default "example-project"
	ClientEmail    string // default firebase-adminsdk-xyz@<project>.iam.gserviceaccount.com
	PrivateKeyID   string // default a fixed 40-hex id
	Key            *rsa.PrivateKey
	PKCS1          bool   // encode the key as PKCS#1 ("BEGIN RSA PRIVATE KEY") instead of PKCS#8
	TokenURI       string // default Google's token endpoint
	UniverseDomain string // default "googleapis.com"
}

// JSON renders the service account as Google's console downloads it, as
// a map so tests can delete or alter single fields before marshaling.
func (s ServiceAccount) JSON() (map[string]any, error) {
	if s.ProjectID == "" {
		s.ProjectID = "example-project"
	}
	if s.ClientEmail == "" {
		s.ClientEmail = "firebase-adminsdk-xyz@" + s.ProjectID + ".iam.gserviceaccount.com"
	}
	if s.PrivateKeyID == "" {
		s.PrivateKeyID = "0123456789abcdef0123456789abcdef01234567"
	}
	if s.TokenURI == "" {
		s.TokenURI = "https://oauth2.googleapis.com/token"
	}
	if s.UniverseDomain == "" {
		s.UniverseDomain = "googleapis.com"
	}
	if s.Key == nil {
		k, err := RSAKey()
		if err != nil {
			return nil, err
		}
		s.Key = k
	}
	block := &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(s.Key)}
	if !s.PKCS1 {
		der, err := x509.MarshalPKCS8PrivateKey(s.Key)
		if err != nil {
			return nil, err
		}
		block = &pem.Block{Type: "PRIVATE KEY", Bytes: der}
	}
	return map[string]any{
		"type":                        "service_account",
		"project_id":                  s.ProjectID,
		"private_key_id":              s.PrivateKeyID,
		"private_key":                 string(pem.EncodeToMemory(block)),
		"client_email":                s.ClientEmail,
		"client_id":                   "123456789012345678901",
		"auth_uri":                    "https://accounts.google.com/o/oauth2/auth",
		"token_uri":                   s.TokenURI,
		"auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
		"client_x509_cert_url":        "https://www.googleapis.com/robot/v1/metadata/x509/" + s.ClientEmail,
		"universe_domain":             s.UniverseDomain,
	}, nil
}

// Bytes renders the service account file as indented JSON.
func (s ServiceAccount) Bytes() ([]byte, error) {
	m, err := s.JSON()
	if err != nil {
		return nil, err
	}
	return json.MarshalIndent(m, "", "  ")
}
