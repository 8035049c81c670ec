package certinfo

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"strconv"
)

type pkixAttr = pkix.AttributeTypeAndValue

var attrLabels = map[string]string{
	"0.9.2342.19200300.100.1.1": "UID",
	"2.5.4.3":                   "CN",
	"2.5.4.5":                   "SERIALNUMBER",
	"2.5.4.6":                   "C",
	"2.5.4.7":                   "L",
	"2.5.4.8":                   "ST",
	"2.5.4.10":                  "O",
	"2.5.4.11":                  "OU",
	"1.2.840.113549.1.9.1":      "emailAddress",
}

// certName names a certificate in a message: its quoted common name, or
// its whole subject when the common name is empty.
func certName(c *x509.Certificate) string {
	switch {
	case c.Subject.CommonName != "":
		return strconv.Quote(c.Subject.CommonName)
	case len(c.Subject.Names) > 0:
		return "with subject " + strconv.Quote(nameString(c.Subject.Names))
	}
	return "with an empty subject"
}
