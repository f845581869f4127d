package artifact

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Info is what Read found in an artifact.
type Info struct {
	Artifact
	Compression Compression
	Signed      bool
	// Verified: signed, and the signature matched the key given to Read.
	Verified bool
}

// MaxHeaderBytes bounds what Read keeps in memory of the header.
const MaxHeaderBytes = 8 << 20

// Read parses an artifact and checks every checksum of its manifest. With
// a key, the signature must be present and verify.
func Read(r io.Reader, pub crypto.PublicKey) (*Info, error) {
	tr := tar.NewReader(r)
	info := &Info{}
	var manifest, sig []byte
	sums := map[string]string{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadArtifact, err)
		}
		if strings.HasPrefix(h.Name, "data/0000.tar") {
			// Payloads may be large: hash each file as it streams by.
			c, err := compressionOf(strings.TrimPrefix(h.Name, "data/0000.tar"))
			if err != nil {
				return nil, err
			}
			if err := info.readData(tr, c, sums); err != nil {
				return nil, err
			}
			continue
		}
		hash := sha256.New()
		data, err := io.ReadAll(io.LimitReader(io.TeeReader(tr, hash), MaxHeaderBytes))
		if err != nil {
			return nil, fmt.Errorf("%w: reading %s: %v", ErrBadArtifact, h.Name, err)
		}
		sums[h.Name] = hex.EncodeToString(hash.Sum(nil))
		switch {
		case h.Name == "version":
			if string(data) != versionJSON {
				return nil, fmt.Errorf("%w: version is %q, want %s", ErrBadArtifact, data, versionJSON)
			}
		case h.Name == "manifest":
			manifest = data
		case h.Name == "manifest.sig":
			sig, info.Signed = data, true
		case strings.HasPrefix(h.Name, "header.tar"):
			info.Compression, err = compressionOf(strings.TrimPrefix(h.Name, "header.tar"))
			if err != nil {
				return nil, err
			}
			if err := info.readHeader(data); err != nil {
				return nil, err
			}
		}
	}
	if manifest == nil {
		return nil, fmt.Errorf("%w: no manifest", ErrBadArtifact)
	}
	listed := map[string]bool{}
	for _, line := range strings.Split(strings.TrimRight(string(manifest), "\n"), "\n") {
		sum, file, ok := strings.Cut(line, "  ")
		if !ok {
			return nil, fmt.Errorf("%w: manifest line %q", ErrBadArtifact, line)
		}
		listed[file] = true
		if got, found := sums[file]; found && got != sum {
			return nil, fmt.Errorf("%w: checksum of %s does not match the manifest", ErrBadArtifact, file)
		} else if !found {
			return nil, fmt.Errorf("%w: %s is in the manifest but not in the artifact", ErrBadArtifact, file)
		}
	}
	for file := range sums {
		if strings.HasPrefix(file, "data/0000/") && !listed[file] {
			return nil, fmt.Errorf("%w: payload file %s is not in the manifest", ErrBadArtifact, file)
		}
	}
	for _, must := range []string{"version", "header.tar" + mustExt(info.Compression)} {
		if !listed[must] {
			return nil, fmt.Errorf("%w: %s is not in the manifest", ErrBadArtifact, must)
		}
	}
	if pub != nil {
		if !info.Signed {
			return nil, fmt.Errorf("%w: the artifact is not signed", ErrSignature)
		}
		if err := verify(pub, manifest, sig); err != nil {
			return nil, err
		}
		info.Verified = true
	}
	return info, nil
}

// readData hashes each payload file into sums as data/0000/<name>.
func (info *Info) readData(r io.Reader, c Compression, sums map[string]string) error {
	zr, err := c.reader(r)
	if err != nil {
		return fmt.Errorf("%w: payload: %v", ErrBadArtifact, err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: payload: %v", ErrBadArtifact, err)
		}
		hash := sha256.New()
		n, err := io.Copy(hash, tr)
		if err != nil {
			return fmt.Errorf("%w: payload file %s: %v", ErrBadArtifact, h.Name, err)
		}
		sums["data/0000/"+h.Name] = hex.EncodeToString(hash.Sum(nil))
		info.Files = append(info.Files, PayloadFile{Name: h.Name, Size: n, SHA256: sums["data/0000/"+h.Name]})
	}
}

func (c Compression) reader(r io.Reader) (io.Reader, error) {
	switch c {
	case Gzip:
		return gzip.NewReader(r)
	case Zstd:
		return zstd.NewReader(r)
	case Lzma:
		return xz.NewReader(r)
	}
	return r, nil
}

func mustExt(c Compression) string {
	e, _ := c.ext()
	return e
}

func compressionOf(ext string) (Compression, error) {
	switch ext {
	case ".gz":
		return Gzip, nil
	case "":
		return None, nil
	case ".zst":
		return Zstd, nil
	case ".xz":
		return Lzma, nil
	}
	return "", fmt.Errorf("%w: unknown compression %q", ErrBadArtifact, ext)
}

func (info *Info) readHeader(data []byte) error {
	r, err := info.Compression.reader(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("%w: header: %v", ErrBadArtifact, err)
	}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: header: %v", ErrBadArtifact, err)
		}
		data, err := io.ReadAll(io.LimitReader(tr, MaxHeaderBytes))
		if err != nil {
			return fmt.Errorf("%w: header: %v", ErrBadArtifact, err)
		}
		switch h.Name {
		case "header-info":
			dec := json.NewDecoder(bytes.NewReader(data))
			dec.DisallowUnknownFields() // as strict as mender-artifact
			err = dec.Decode(&info.Header)
		case "headers/0000/type-info":
			err = json.Unmarshal(data, &info.TypeInfo)
		case "headers/0000/meta-data":
			info.MetaData = data
		default:
			if name, ok := strings.CutPrefix(h.Name, "scripts/"); ok {
				info.Scripts = append(info.Scripts, Script{Name: name, Data: data})
			}
		}
		if err != nil {
			return fmt.Errorf("%w: %s: %v", ErrBadArtifact, h.Name, err)
		}
	}
}
