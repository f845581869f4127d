// Package artifact writes and reads Mender Artifacts of format version 3
// with one payload, as mender-artifact's artifact, writer and reader
// packages do together: header-info, type-info, meta-data, state scripts,
// payload files, compression (gzip, none, lzma, zstd) and RSA or ECDSA
// signatures. Writes are deterministic for the same inputs and time.
package artifact

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Compression of the header and payload tars inside an artifact.
type Compression string

const (
	Gzip Compression = "gzip"
	None Compression = "none"
	// Zstd makes smaller artifacts but mender 3.4 and mender-artifact 3.9
	// refuse it.
	Zstd Compression = "zstd"
	// Lzma is mender-artifact's "lzma": the xz container (.xz), which
	// every Mender client reads.
	Lzma Compression = "lzma"
)

// Compressions are the values of Compression, for flags and completion.
var Compressions = []Compression{Gzip, None, Lzma, Zstd}

func (c Compression) ext() (string, error) {
	switch c {
	case Gzip, "":
		return ".gz", nil
	case None:
		return "", nil
	case Zstd:
		return ".zst", nil
	case Lzma:
		return ".xz", nil
	}
	return "", fmt.Errorf("compression %q: want gzip, none, lzma or zstd", string(c))
}

// Check refuses a compression that is none of Compressions.
func (c Compression) Check() error {
	_, err := c.ext()
	return err
}

func (c Compression) compress(data []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := c.writer(&buf)
	if err != nil {
		return nil, err
	}
	zw.Write(data)
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (c Compression) writer(w io.Writer) (io.WriteCloser, error) {
	switch c {
	case Gzip, "":
		return gzip.NewWriterLevel(w, gzip.BestCompression)
	case None:
		return nopCloser{w}, nil
	case Zstd:
		return zstd.NewWriter(w)
	case Lzma:
		return xz.NewWriter(w)
	}
	_, err := c.ext()
	return nil, err
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// HeaderInfo is header-info, as mender-artifact 3.9 parses it (strictly:
// an unknown field is an error there).
type HeaderInfo struct {
	Payloads         []PayloadType    `json:"payloads"`
	ArtifactProvides ArtifactProvides `json:"artifact_provides"`
	ArtifactDepends  ArtifactDepends  `json:"artifact_depends"`
}

// PayloadType names one payload's update module.
type PayloadType struct {
	Type string `json:"type"`
}

// ArtifactProvides is what the artifact as a whole provides.
type ArtifactProvides struct {
	ArtifactName  string `json:"artifact_name"`
	ArtifactGroup string `json:"artifact_group,omitempty"`
}

// ArtifactDepends is what the artifact as a whole needs on the device.
type ArtifactDepends struct {
	ArtifactName  []string `json:"artifact_name,omitempty"`
	DeviceType    []string `json:"device_type"`
	ArtifactGroup []string `json:"artifact_group,omitempty"`
}

// TypeInfo is headers/0000/type-info.
type TypeInfo struct {
	Type                   string            `json:"type"`
	ArtifactDepends        map[string]string `json:"artifact_depends,omitempty"`
	ArtifactProvides       map[string]string `json:"artifact_provides,omitempty"`
	ClearsArtifactProvides []string          `json:"clears_artifact_provides,omitempty"`
}

// Artifact is everything a one-payload artifact holds.
type Artifact struct {
	Header   HeaderInfo
	TypeInfo TypeInfo
	MetaData json.RawMessage // nil: none
	// Files are the payload's files (embedded images), read from disk as
	// the artifact is written.
	Files []PayloadFile
	// Scripts are state scripts, written where mender-artifact writes
	// them: scripts/<name> in the header, after header-info.
	Scripts []Script
}

// Script is one state script: a name as mender-artifact requires
// (ArtifactInstall_Enter_05_wifi) and its content.
type Script struct {
	Name string
	Data []byte
}

var scriptName = regexp.MustCompile(`^(ArtifactInstall|ArtifactReboot|ArtifactCommit|ArtifactRollback|ArtifactRollbackReboot|ArtifactFailure)_(Enter|Leave|Error)_[0-9][0-9](_\S+)?$`)

// CheckScriptName refuses what mender-artifact refuses: a name not of the
// form STATE_ACTION_NN[_WORDS], or a state an artifact cannot carry (Idle,
// Sync and Download scripts live in the root filesystem).
func CheckScriptName(name string) error {
	if !scriptName.MatchString(name) {
		return fmt.Errorf("%w: %q: want STATE_(Enter|Leave|Error)_NN[_DESCRIPTION] with STATE one of ArtifactInstall, ArtifactReboot, ArtifactCommit, ArtifactRollback, ArtifactRollbackReboot, ArtifactFailure", ErrScriptName, name)
	}
	return nil
}

// PayloadFile is one file of the payload, already on disk with its size
// and checksum known (the manifest, which lists checksums, comes first).
type PayloadFile struct {
	Name   string
	Path   string
	Size   int64
	SHA256 string // hex
}

// WriteOptions says how to write.
type WriteOptions struct {
	Compression Compression
	Key         crypto.Signer // nil: unsigned
	// ModTime stamps every tar entry; zero means the Unix epoch, which
	// keeps the output the same for the same inputs.
	ModTime time.Time
	// Progress, if set, hears how far the steps that take time with big
	// payload files are: Compressing (the files' bytes read), then Writing
	// (the artifact's bytes written). done is total when a step ends. An
	// artifact without payload files reports nothing.
	Progress func(step Step, done, total int64)
}

// Step is a step of Write reported to WriteOptions.Progress.
type Step int

const (
	Compressing Step = iota // the payload files into the data tar
	Writing                 // the artifact to its writer
)

const versionJSON = `{"format":"mender","version":3}`

// Write writes a Mender Artifact v3 to w: version, manifest, manifest.sig
// when signed, header.tar[.gz|.zst] and data/0000.tar[.gz|.zst].
func Write(ctx context.Context, w io.Writer, a Artifact, opt WriteOptions) error {
	ext, err := opt.Compression.ext()
	if err != nil {
		return err
	}
	if a.Header.ArtifactProvides.ArtifactName == "" {
		return fmt.Errorf("artifact name: must not be empty")
	}
	if len(a.Header.ArtifactDepends.DeviceType) == 0 {
		return fmt.Errorf("device type: at least one is needed, or the client refuses the artifact")
	}
	mtime := opt.ModTime
	if mtime.IsZero() {
		mtime = time.Unix(0, 0)
	}

	headerInfo, err := json.Marshal(a.Header)
	if err != nil {
		return err
	}
	typeInfo, err := json.Marshal(a.TypeInfo)
	if err != nil {
		return err
	}
	files := []tarFile{{name: "header-info", data: headerInfo}}
	seen := map[string]bool{}
	for _, s := range a.Scripts {
		if err := CheckScriptName(s.Name); err != nil {
			return err
		}
		if seen[s.Name] {
			return fmt.Errorf("%w: %s is given twice", ErrScriptName, s.Name)
		}
		seen[s.Name] = true
		files = append(files, tarFile{name: "scripts/" + s.Name, data: s.Data, mode: 0o755})
	}
	files = append(files, tarFile{name: "headers/0000/type-info", data: typeInfo})
	if a.MetaData != nil {
		var compact bytes.Buffer
		if err := json.Compact(&compact, a.MetaData); err != nil {
			return fmt.Errorf("meta-data: %w", err)
		}
		files = append(files, tarFile{name: "headers/0000/meta-data", data: compact.Bytes()})
	}
	headerTar, err := makeTar(files, mtime)
	if err != nil {
		return err
	}
	header, err := opt.Compression.compress(headerTar)
	if err != nil {
		return err
	}
	report := func(Step, int64, int64) {}
	if opt.Progress != nil && len(a.Files) > 0 {
		report = opt.Progress
	}
	data, err := writeData(ctx, a.Files, opt.Compression, mtime, report)
	if err != nil {
		return err
	}
	defer data.Close()
	dataInfo, err := data.Stat()
	if err != nil {
		return err
	}

	headerName := "header.tar" + ext
	sums := map[string]string{"version": sha256Hex([]byte(versionJSON)), headerName: sha256Hex(header)}
	for _, f := range a.Files {
		sums["data/0000/"+f.Name] = f.SHA256
	}
	manifest := manifestOf(sums)
	outer := []tarFile{{name: "version", data: []byte(versionJSON)}, {name: "manifest", data: manifest}}
	if opt.Key != nil {
		sig, err := sign(opt.Key, manifest)
		if err != nil {
			return fmt.Errorf("signing: %w", err)
		}
		outer = append(outer, tarFile{name: "manifest.sig", data: sig})
	}
	outer = append(outer, tarFile{name: headerName, data: header})
	// The output is written from start to end, never sought: it may be
	// a pipe.
	out := &countingWriter{w: ctxWriter{ctx, w}}
	var total int64 // the outer tar's size: entries in 512-byte blocks, then two empty blocks
	for _, f := range outer {
		total += 512 + blocks(int64(len(f.data)))
	}
	total += 512 + blocks(dataInfo.Size()) + 1024
	out.report = func(n int64) { report(Writing, n, total) }
	report(Writing, 0, total)
	tw := tar.NewWriter(out)
	if err := writeEntries(tw, outer, mtime); err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: "data/0000.tar" + ext, Mode: 0o600, Size: dataInfo.Size(), ModTime: mtime, Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}); err != nil {
		return err
	}
	if _, err := io.Copy(tw, data); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	report(Writing, total, total)
	return nil
}

// blocks is n rounded up to whole tar blocks.
func blocks(n int64) int64 { return (n + 511) / 512 * 512 }

// countingWriter tells report how many bytes went through it so far.
type countingWriter struct {
	w      io.Writer
	n      int64
	report func(n int64)
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	if c.report != nil {
		c.report(c.n)
	}
	return n, err
}

// countingReader tells report how many bytes were read through it so
// far.
type countingReader struct {
	r      io.Reader
	n      int64
	report func(n int64)
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	c.report(c.n)
	return n, err
}

// writeData writes the payload's tar, compressed, to a temporary file
// (removed when closed): the outer tar needs its size before its bytes.
func writeData(ctx context.Context, files []PayloadFile, c Compression, mtime time.Time, report func(Step, int64, int64)) (*os.File, error) {
	tmp, err := os.CreateTemp("", "artifact-data")
	if err != nil {
		return nil, err
	}
	os.Remove(tmp.Name()) // unlinked: gone with the last close
	zw, err := c.writer(ctxWriter{ctx, tmp})
	if err != nil {
		tmp.Close()
		return nil, err
	}
	tw := tar.NewWriter(zw)
	var total, read int64
	for _, f := range files {
		total += f.Size
	}
	report(Compressing, 0, total)
	for _, f := range files {
		base := read
		if err := addFile(tw, f, mtime, func(n int64) { report(Compressing, base+n, total) }); err != nil {
			tmp.Close()
			return nil, err
		}
		read += f.Size
	}
	if err = tw.Close(); err == nil {
		err = zw.Close()
	}
	if err != nil {
		tmp.Close()
		return nil, err
	}
	report(Compressing, total, total)
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		tmp.Close()
		return nil, err
	}
	return tmp, nil
}

func addFile(tw *tar.Writer, f PayloadFile, mtime time.Time, report func(n int64)) error {
	in, err := os.Open(f.Path)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := tw.WriteHeader(&tar.Header{Name: f.Name, Mode: 0o600, Size: f.Size, ModTime: mtime, Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}); err != nil {
		return err
	}
	_, err = io.Copy(tw, &countingReader{r: in, report: report})
	return err
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// manifestOf lists "<sha256>  <name>" lines sorted by name; payload files
// are listed as data/0000/<file>.
func manifestOf(sums map[string]string) []byte {
	names := make([]string, 0, len(sums))
	for n := range sums {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "%s  %s\n", sums[n], n)
	}
	return []byte(b.String())
}

type tarFile struct {
	name string
	data []byte
	mode int64 // 0o600 when zero
}

func makeTar(files []tarFile, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := writeEntries(tw, files, mtime); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeEntries(tw *tar.Writer, files []tarFile, mtime time.Time) error {
	for _, f := range files {
		mode := f.mode
		if mode == 0 {
			mode = 0o600
		}
		h := &tar.Header{Name: f.name, Mode: mode, Size: int64(len(f.data)), ModTime: mtime, Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := tw.Write(f.data); err != nil {
			return err
		}
	}
	return nil
}

// WriteFile writes the artifact to path atomically: a failure, or ctx
// ending, leaves no partial file behind and path as it was.
func WriteFile(ctx context.Context, path string, a Artifact, opt WriteOptions) error {
	dir := filepath.Dir(path)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return fmt.Errorf("directory %s %w", dir, ErrNoOutputDir)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := Write(ctx, tmp, a, opt); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// HashingWriter counts and hashes what is written through it, and fails
// writes once ctx is done (long copies from files watch no context): a
// payload file is written through one, so that its size and checksum are
// known for the manifest.
type HashingWriter struct {
	ctx context.Context
	w   io.Writer
	h   hash.Hash
	n   int64
}

// NewHashingWriter writes through to w.
func NewHashingWriter(ctx context.Context, w io.Writer) *HashingWriter {
	return &HashingWriter{ctx: ctx, w: w, h: sha256.New()}
}

func (c *HashingWriter) Write(b []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.w.Write(b)
	c.h.Write(b[:n])
	c.n += int64(n)
	return n, err
}

// PayloadFile describes what was written, as the file at path.
func (c *HashingWriter) PayloadFile(path string) PayloadFile {
	return PayloadFile{Name: filepath.Base(path), Path: path, Size: c.n, SHA256: hex.EncodeToString(c.h.Sum(nil))}
}

// ctxWriter fails its writes once ctx is done.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(b []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(b)
}
