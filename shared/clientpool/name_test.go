package clientpool_test

import "crypto/x509/pkix"

func x509Name(cn string) pkix.Name { return pkix.Name{CommonName: cn, Organization: []string{cn}} }
