package certinfo

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
)

// pfxLayout is what can be learned about a PKCS#12 file without its
// password: whether it is one at all, the key and certificate bags that
// sit outside encryption, whether some content is encrypted, and the
// largest key-derivation iteration count it asks for.
type pfxLayout struct {
	keyBags       int // key bags visible without decryption (plain or shrouded)
	certBags      int // certificate bags visible without decryption
	encrypted     int // encryptedData content infos (usually the certificates)
	maxIterations int
	hasMAC        bool
}

// maxIterations caps the key derivation an upload may demand. OpenSSL
// and macOS use 2048; well-meant exports use up to a few hundred
// thousand. Without a cap, one upload could pin a CPU for hours.
const maxIterations = 1_000_000

var (
	oidDataContent      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidEncryptedContent = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 6}
	oidKeyBag           = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 1}
	oidShroudedKeyBag   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 2}
	oidCertBag          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 3}
	oidPBES2            = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBMAC1           = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 14}
)

type scanPFX struct {
	Version  int
	AuthSafe scanContentInfo
	MacData  scanMacData `asn1:"optional"`
}

type scanContentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"tag:0,explicit,optional"`
}

type scanMacData struct {
	Mac struct {
		Algorithm pkix.AlgorithmIdentifier
		Digest    []byte
	}
	MacSalt    []byte
	Iterations int `asn1:"optional,default:1"`
}

type scanEncryptedData struct {
	Version int
	Info    struct {
		ContentType asn1.ObjectIdentifier
		Algorithm   pkix.AlgorithmIdentifier
		Content     asn1.RawValue `asn1:"tag:0,optional"`
	}
}

type scanSafeBag struct {
	ID         asn1.ObjectIdentifier
	Value      asn1.RawValue `asn1:"tag:0,explicit"`
	Attributes asn1.RawValue `asn1:"optional"`
}

type scanEncryptedKey struct {
	Algorithm pkix.AlgorithmIdentifier
	Data      []byte
}

type scanPBEParams struct {
	Salt       []byte
	Iterations int
}

type scanPBES2Params struct {
	KDF pkix.AlgorithmIdentifier
	Enc pkix.AlgorithmIdentifier
}

type scanPBKDF2Params struct {
	Salt       asn1.RawValue
	Iterations int
	Rest       asn1.RawValue `asn1:"optional"`
}

type scanPBMAC1Params struct {
	KDF pkix.AlgorithmIdentifier
	Mac pkix.AlgorithmIdentifier
}

var errNotPFX = errors.New("not a PKCS#12 structure")

// scanPFX reads the layout of data. It fails only when data is not a
// DER PKCS#12 PFX; inner parts it cannot read are left for the decoder.
func scanLayout(data []byte) (pfxLayout, error) {
	var l pfxLayout
	var p scanPFX
	rest, err := asn1.Unmarshal(data, &p)
	if err != nil || len(rest) != 0 || p.Version != 3 || !p.AuthSafe.ContentType.Equal(oidDataContent) {
		return l, errNotPFX
	}
	if len(p.MacData.Mac.Algorithm.Algorithm) > 0 {
		l.hasMAC = true
		l.note(p.MacData.Iterations)
		if p.MacData.Mac.Algorithm.Algorithm.Equal(oidPBMAC1) {
			var mp scanPBMAC1Params
			if _, err := asn1.Unmarshal(p.MacData.Mac.Algorithm.Parameters.FullBytes, &mp); err == nil {
				var k scanPBKDF2Params
				if _, err := asn1.Unmarshal(mp.KDF.Parameters.FullBytes, &k); err == nil {
					l.note(k.Iterations)
				}
			}
		}
	}
	var authSafeBytes []byte
	if _, err := asn1.Unmarshal(p.AuthSafe.Content.Bytes, &authSafeBytes); err != nil {
		return l, errNotPFX
	}
	var infos []scanContentInfo
	if _, err := asn1.Unmarshal(authSafeBytes, &infos); err != nil {
		return l, errNotPFX
	}
	for _, ci := range infos {
		switch {
		case ci.ContentType.Equal(oidDataContent):
			var contents []byte
			if _, err := asn1.Unmarshal(ci.Content.Bytes, &contents); err != nil {
				continue
			}
			var bags []scanSafeBag
			if _, err := asn1.Unmarshal(contents, &bags); err != nil {
				continue
			}
			for _, b := range bags {
				switch {
				case b.ID.Equal(oidKeyBag):
					l.keyBags++
				case b.ID.Equal(oidShroudedKeyBag):
					l.keyBags++
					var ek scanEncryptedKey
					if _, err := asn1.Unmarshal(b.Value.Bytes, &ek); err == nil {
						l.noteAlgorithm(ek.Algorithm)
					}
				case b.ID.Equal(oidCertBag):
					l.certBags++
				}
			}
		case ci.ContentType.Equal(oidEncryptedContent):
			l.encrypted++
			var ed scanEncryptedData
			if _, err := asn1.Unmarshal(ci.Content.Bytes, &ed); err == nil {
				l.noteAlgorithm(ed.Info.Algorithm)
			}
		}
	}
	return l, nil
}

func (l *pfxLayout) note(iterations int) {
	if iterations > l.maxIterations {
		l.maxIterations = iterations
	}
}

// noteAlgorithm records the iteration count of a PKCS#12 PBE or PBES2
// algorithm identifier.
func (l *pfxLayout) noteAlgorithm(a pkix.AlgorithmIdentifier) {
	if a.Algorithm.Equal(oidPBES2) {
		var p scanPBES2Params
		if _, err := asn1.Unmarshal(a.Parameters.FullBytes, &p); err != nil {
			return
		}
		var k scanPBKDF2Params
		if _, err := asn1.Unmarshal(p.KDF.Parameters.FullBytes, &k); err == nil {
			l.note(k.Iterations)
		}
		return
	}
	var p scanPBEParams
	if _, err := asn1.Unmarshal(a.Parameters.FullBytes, &p); err == nil {
		l.note(p.Iterations)
	}
}
