package artifact

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
)

// ParsePrivateKey reads a PEM private key as mender-artifact signs with:
// RSA of 2048 to 4096 bits, or ECDSA on P-256. PKCS#1, SEC1 and PKCS#8
// encodings are all accepted (mender-artifact itself refuses PKCS#8).
func ParsePrivateKey(pemData []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(pemData)
	if block == nil {
		return nil, fmt.Errorf("%w: no PEM block found", ErrKey)
	}
	var key any
	var err error
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "ENCRYPTED PRIVATE KEY":
		return nil, fmt.Errorf("%w: encrypted keys are not supported; decrypt it first (openssl pkey -in KEY -out PLAIN)", ErrKey)
	default:
		return nil, fmt.Errorf("%w: PEM block %q is not a private key", ErrKey, block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if bits := k.N.BitLen(); bits < 2048 || bits > 4096 {
			return nil, fmt.Errorf("%w: RSA key of %d bits; want 2048 to 4096", ErrKey, bits)
		}
		return k, nil
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("%w: ECDSA key on %s; want P-256", ErrKey, k.Curve.Params().Name)
		}
		return k, nil
	}
	return nil, fmt.Errorf("%w: %T keys are not supported; use RSA or ECDSA P-256", ErrKey, key)
}

// sign returns the manifest.sig content: base64 of an RSA PKCS#1 v1.5
// signature, or of ECDSA's raw 32-byte r and s, over SHA-256 of manifest.
func sign(key crypto.Signer, manifest []byte) ([]byte, error) {
	sum := sha256.Sum256(manifest)
	var sig []byte
	switch k := key.(type) {
	case *rsa.PrivateKey:
		var err error
		if sig, err = rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, sum[:]); err != nil {
			return nil, err
		}
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, k, sum[:])
		if err != nil {
			return nil, err
		}
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	default:
		return nil, fmt.Errorf("%w: %T", ErrKey, key)
	}
	out := make([]byte, base64.StdEncoding.EncodedLen(len(sig)))
	base64.StdEncoding.Encode(out, sig)
	return out, nil
}

// ParsePublicKey reads a PEM public key (PKIX), RSA or ECDSA.
func ParsePublicKey(pemData []byte) (crypto.PublicKey, error) {
	block, _ := pem.Decode(pemData)
	if block == nil {
		return nil, fmt.Errorf("%w: no PEM block found", ErrKey)
	}
	if strings.HasSuffix(block.Type, "PRIVATE KEY") {
		// The signing key given where its public half belongs.
		return nil, fmt.Errorf("%w: PEM block %q is a private key; verifying takes the public key (openssl pkey -in KEY -pubout -out KEY.pub)", ErrKey, block.Type)
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	return key, nil
}

// verify checks a manifest.sig against manifest.
func verify(pub crypto.PublicKey, manifest, sigB64 []byte) error {
	sig, err := base64.StdEncoding.DecodeString(string(sigB64))
	if err != nil {
		return fmt.Errorf("%w: manifest.sig is not base64", ErrSignature)
	}
	sum := sha256.Sum256(manifest)
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if rsa.VerifyPKCS1v15(k, crypto.SHA256, sum[:], sig) != nil {
			return ErrSignature
		}
	case *ecdsa.PublicKey:
		if len(sig) != 64 || !ecdsa.Verify(k, sum[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
			return ErrSignature
		}
	default:
		return fmt.Errorf("%w: %T keys are not supported", ErrKey, pub)
	}
	return nil
}
