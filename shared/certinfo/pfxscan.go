package certinfo

import (
	"errors"

	"encoding/asn1"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// pfxLayout is what can be learned about a PKCS#12 file without its
// password: whether it is one at all, the key and certificate bags that
// sit outside encryption, whether some content is encrypted, and the
// largest key-derivation iteration count it asks for.
type pfxLayout struct {
	keyBags       int // key bags visible without decryption (plain or shrouded)
	certBags      int // certificate bags visible without decryption
	encrypted     int // encryptedData content infos (usually the certificates)
	shrouded      int // password-encrypted key bags visible without decryption
	maxIterations int64
	hasMAC        bool
}

// MaxIterations caps the key-derivation iterations a .p12 may ask for.
// OpenSSL and macOS write 2,048, Windows 2,000, Java keytool 10,000; a
// file at 1,000,000 costs seconds of CPU to open, so the cap is ten times
// what any exporter writes. A file past it is not_pkcs12, its message
// naming both counts.
const MaxIterations = 100_000

var (
	oidDataContent      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidEncryptedContent = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 6}
	oidKeyBag           = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 1}
	oidShroudedKeyBag   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 2}
	oidCertBag          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 3}
	oidPBES2            = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBMAC1           = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 14}
)

var errNotPFX = errors.New("not a PKCS#12 structure")

var tagExplicit0 = cbasn1.Tag(0).Constructed().ContextSpecific()

// scanLayout reads the layout of data with a zero-copy DER reader. It
// fails only when data is not a DER PKCS#12 PFX; inner parts it cannot
// read are left for the decoder to report.
func scanLayout(data []byte) (pfxLayout, error) {
	var l pfxLayout
	in := cryptobyte.String(data)
	var pfx, authSafe, content, octets cryptobyte.String
	var version int64
	var ct asn1.ObjectIdentifier
	if !in.ReadASN1(&pfx, cbasn1.SEQUENCE) || !in.Empty() ||
		!pfx.ReadASN1Integer(&version) || version != 3 ||
		!pfx.ReadASN1(&authSafe, cbasn1.SEQUENCE) ||
		!authSafe.ReadASN1ObjectIdentifier(&ct) || !ct.Equal(oidDataContent) ||
		!authSafe.ReadASN1(&content, tagExplicit0) ||
		!content.ReadASN1(&octets, cbasn1.OCTET_STRING) {
		return l, errNotPFX
	}
	if !pfx.Empty() {
		l.scanMAC(pfx)
	}
	var infos cryptobyte.String
	if !octets.ReadASN1(&infos, cbasn1.SEQUENCE) {
		return l, errNotPFX
	}
	for !infos.Empty() {
		var ci, body cryptobyte.String
		var typ asn1.ObjectIdentifier
		if !infos.ReadASN1(&ci, cbasn1.SEQUENCE) || !ci.ReadASN1ObjectIdentifier(&typ) || !ci.ReadASN1(&body, tagExplicit0) {
			return l, errNotPFX
		}
		switch {
		case typ.Equal(oidDataContent):
			var safe, bags cryptobyte.String
			if body.ReadASN1(&safe, cbasn1.OCTET_STRING) && safe.ReadASN1(&bags, cbasn1.SEQUENCE) {
				l.scanBags(bags)
			}
		case typ.Equal(oidEncryptedContent):
			l.encrypted++
			// EncryptedData ::= SEQUENCE { version, EncryptedContentInfo ::= SEQUENCE { type, AlgorithmIdentifier, [0] content } }
			var ed, eci cryptobyte.String
			var v int64
			var inner asn1.ObjectIdentifier
			if body.ReadASN1(&ed, cbasn1.SEQUENCE) && ed.ReadASN1Integer(&v) && ed.ReadASN1(&eci, cbasn1.SEQUENCE) && eci.ReadASN1ObjectIdentifier(&inner) {
				l.scanAlgorithm(&eci)
			}
		}
	}
	return l, nil
}

// scanMAC reads MacData ::= SEQUENCE { DigestInfo, salt, iterations DEFAULT 1 }.
func (l *pfxLayout) scanMAC(s cryptobyte.String) {
	var mac, digestInfo, alg cryptobyte.String
	var oid asn1.ObjectIdentifier
	if !s.ReadASN1(&mac, cbasn1.SEQUENCE) || !mac.ReadASN1(&digestInfo, cbasn1.SEQUENCE) || !digestInfo.ReadASN1(&alg, cbasn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&oid) {
		return
	}
	l.hasMAC = true
	var salt cryptobyte.String
	var iterations int64 = 1
	if mac.ReadASN1(&salt, cbasn1.OCTET_STRING) && mac.PeekASN1Tag(cbasn1.INTEGER) {
		mac.ReadASN1Integer(&iterations)
	}
	l.note(iterations)
	if oid.Equal(oidPBMAC1) {
		// PBMAC1-params ::= SEQUENCE { keyDerivationFunc AlgorithmIdentifier, messageAuthScheme AlgorithmIdentifier }
		var params, kdf cryptobyte.String
		var kdfOID asn1.ObjectIdentifier
		if alg.ReadASN1(&params, cbasn1.SEQUENCE) && params.ReadASN1(&kdf, cbasn1.SEQUENCE) && kdf.ReadASN1ObjectIdentifier(&kdfOID) {
			l.scanPBKDF2(kdf)
		}
	}
}

// scanBags counts the bags of a SafeContents and notes the iterations of
// shrouded keys.
func (l *pfxLayout) scanBags(bags cryptobyte.String) {
	for !bags.Empty() {
		var bag, value cryptobyte.String
		var id asn1.ObjectIdentifier
		if !bags.ReadASN1(&bag, cbasn1.SEQUENCE) || !bag.ReadASN1ObjectIdentifier(&id) || !bag.ReadASN1(&value, tagExplicit0) {
			return
		}
		switch {
		case id.Equal(oidKeyBag):
			l.keyBags++
		case id.Equal(oidShroudedKeyBag):
			l.keyBags++
			l.shrouded++
			var epki cryptobyte.String
			if value.ReadASN1(&epki, cbasn1.SEQUENCE) {
				l.scanAlgorithm(&epki)
			}
		case id.Equal(oidCertBag):
			l.certBags++
		}
	}
}

// scanAlgorithm reads an AlgorithmIdentifier of a PKCS#12 PBE scheme
// (params: salt, iterations) or PBES2 (params: PBKDF2, encryption).
func (l *pfxLayout) scanAlgorithm(s *cryptobyte.String) {
	var alg, params cryptobyte.String
	var oid asn1.ObjectIdentifier
	if !s.ReadASN1(&alg, cbasn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&oid) || !alg.ReadASN1(&params, cbasn1.SEQUENCE) {
		return
	}
	if oid.Equal(oidPBES2) {
		var kdf cryptobyte.String
		var kdfOID asn1.ObjectIdentifier
		if params.ReadASN1(&kdf, cbasn1.SEQUENCE) && kdf.ReadASN1ObjectIdentifier(&kdfOID) {
			l.scanPBKDF2(kdf)
		}
		return
	}
	var salt cryptobyte.String
	var iterations int64
	if params.ReadASN1(&salt, cbasn1.OCTET_STRING) && params.ReadASN1Integer(&iterations) {
		l.note(iterations)
	}
}

// scanPBKDF2 reads PBKDF2-params ::= SEQUENCE { salt, iterationCount, ... }.
func (l *pfxLayout) scanPBKDF2(kdf cryptobyte.String) {
	var params, salt cryptobyte.String
	var saltTag cbasn1.Tag
	var iterations int64
	if kdf.ReadASN1(&params, cbasn1.SEQUENCE) && params.ReadAnyASN1(&salt, &saltTag) && params.ReadASN1Integer(&iterations) {
		l.note(iterations)
	}
}

func (l *pfxLayout) note(iterations int64) {
	if iterations > l.maxIterations {
		l.maxIterations = iterations
	}
}
