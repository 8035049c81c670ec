package certinfo

import "crypto/x509/pkix"

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
