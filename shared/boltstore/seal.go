package boltstore

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"mobilepush/shared/push"
)

const keySize = 32 // AES-256

// loadKey reads the sealing key at path, creating it (32 random bytes, mode
// 0600, never overwritten) on first use. A key file others can read or
// write is refused.
func loadKey(path string) ([]byte, error) {
	const op = "boltstore.loadKey"
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		key := make([]byte, keySize)
		if _, err := rand.Read(key); err != nil {
			f.Close()
			return nil, push.E(op, push.Internal, fmt.Errorf("generate key: %w", err))
		}
		if _, err := f.Write(key); err != nil {
			f.Close()
			return nil, push.E(op, push.Internal, fmt.Errorf("write key file %s: %w", path, err))
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, push.E(op, push.Internal, fmt.Errorf("sync key file %s: %w", path, err))
		}
		if err := f.Close(); err != nil {
			return nil, push.E(op, push.Internal, fmt.Errorf("close key file %s: %w", path, err))
		}
		return key, nil
	case !errors.Is(err, fs.ErrExist):
		return nil, push.E(op, push.Internal, fmt.Errorf("create key file %s: %w", path, err))
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, push.E(op, push.Internal, fmt.Errorf("stat key file %s: %w", path, err))
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, push.E(op, push.Internal, fmt.Errorf("key file %s has mode %v: it must be readable by its owner only (chmod 600)", path, st.Mode().Perm()))
	}
	key, err := os.ReadFile(path)
	if err != nil {
		return nil, push.E(op, push.Internal, fmt.Errorf("read key file %s: %w", path, err))
	}
	if len(key) != keySize {
		return nil, push.E(op, push.Internal, fmt.Errorf("key file %s holds %d bytes, want %d", path, len(key), keySize))
	}
	return key, nil
}

// sealer encrypts secret values with AES-256-GCM. The additional data binds
// each ciphertext to its (secret, version), so a value moved elsewhere in
// the file does not open.
type sealer struct{ aead cipher.AEAD }

func newSealer(key []byte) (*sealer, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, push.E("boltstore.newSealer", push.Internal, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, push.E("boltstore.newSealer", push.Internal, err)
	}
	return &sealer{aead: aead}, nil
}

func (s *sealer) seal(plain []byte, secretID, versionID string) []byte {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	_, _ = rand.Read(nonce)
	return s.aead.Seal(nonce, nonce, plain, []byte(secretID+"\x00"+versionID))
}

func (s *sealer) open(sealed []byte, secretID, versionID string) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("sealed value is truncated")
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], []byte(secretID+"\x00"+versionID))
	if err != nil {
		return nil, errors.New("sealed value does not open with this key file")
	}
	return plain, nil
}
