package models

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/asr-server/asr-server/internal/engine/modelfile"
)

// Errors of Pull. Each error Pull returns wraps one of these or an I/O
// error; in every case the installed model, if any, is left as it was.
var (
	// ErrNoChecksum: the model is not in the catalog and no sum was given.
	ErrNoChecksum = errors.New("models: no known SHA-256 sum for this model")
	// ErrChecksum: the downloaded file has another sum; it is deleted.
	ErrChecksum = errors.New("models: SHA-256 mismatch")
	// ErrSize: the server offers or sent a file of another size.
	ErrSize = errors.New("models: unexpected size")
	// ErrNotModel: the file has the right sum but is not a whisper model.
	ErrNotModel = errors.New("models: not a whisper model")
	// ErrBusy: another Pull of the same model is running.
	ErrBusy = errors.New("models: another download of this model is running")
	// ErrHTTP: the server answered with an unexpected status.
	ErrHTTP = errors.New("models: download refused")
	// ErrUnsafe: the partial file is a symbolic link, or not a regular
	// file of its own; it is left alone.
	ErrUnsafe = errors.New("models: unsafe partial file")
	// ErrInterrupted: the transfer ended early; the bytes received are
	// kept in the .partial file and a later Pull resumes from them.
	ErrInterrupted = errors.New("models: download interrupted")
)

// PartialSuffix ends the name of a download in progress, beside the model.
const PartialSuffix = ".partial"

// LockSuffix ends the name of the file that pulls of a model lock.
const LockSuffix = ".lock"

// MaxUnknownSize bounds a download whose size neither the catalog nor the
// server tells, far above the largest published model.
const MaxUnknownSize = 8 << 30

// DefaultStallTimeout is how long a download may receive nothing before
// it is abandoned (and can be resumed).
const DefaultStallTimeout = time.Minute

// Puller downloads models into a directory.
type Puller struct {
	// BaseURL is where models are fetched from, DefaultBaseURL if empty.
	BaseURL string
	// Dir is the models directory, DefaultDir if empty.
	Dir string
	// HTTP is the client to download with; nil means a client of its own.
	HTTP *http.Client
	// StallTimeout bounds a pause in the transfer; 0 means
	// DefaultStallTimeout.
	StallTimeout time.Duration
}

// Request says what to pull.
type Request struct {
	// Name is the model's name, e.g. "base.en".
	Name string
	// SHA256, when set, is the expected sum, for a model the catalog
	// lacks; it takes precedence over the catalog's.
	SHA256 string
	// Progress, when not nil, is called as bytes arrive with the bytes
	// of the file present so far and its total size (-1 if unknown).
	Progress func(done, total int64)
}

// Installed describes a pulled model.
type Installed struct {
	Name   string `json:"name"`
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// AlreadyPresent is set when the model was installed and verified
	// before, and nothing was downloaded.
	AlreadyPresent bool `json:"already_present"`
	// ResumedAt is the number of bytes of an earlier download that were
	// kept, 0 when the download started from scratch.
	ResumedAt int64 `json:"resumed_at"`
}

// Path returns the path a model called name has in the directory.
func (p *Puller) Path(name string) string { return filepath.Join(p.dir(), FileName(name)) }

func (p *Puller) dir() string {
	if p.Dir == "" {
		return DefaultDir
	}
	return p.Dir
}

// Pull installs the model req.Name into the directory. It downloads into
// a .partial file beside the model, continuing an earlier partial download
// with an HTTP Range request, checks the file's size, SHA-256 sum and
// structure, and only then renames it over the model, after an fsync. A
// file with the wrong sum is deleted; an interrupted transfer keeps its
// .partial for the next Pull. The installed model is never touched
// unless the new one verified.
func (p *Puller) Pull(ctx context.Context, req Request) (*Installed, error) {
	name, err := ParseName(req.Name)
	if err != nil {
		return nil, err
	}
	want, size, err := expected(name, req.SHA256)
	if err != nil {
		return nil, err
	}
	dest := p.Path(name)
	inst := &Installed{Name: name, Path: dest, Size: size, SHA256: want}
	if sum, n, err := fileSum(dest); err == nil && sum == want {
		inst.Size, inst.AlreadyPresent = n, true
		return inst, nil
	}
	if err := os.MkdirAll(p.dir(), 0o755); err != nil {
		return nil, fmt.Errorf("models: %w", err)
	}
	lock, err := lockModel(dest + LockSuffix)
	if err != nil {
		return nil, err
	}
	defer lock.Close()
	// Another pull may have installed the model just before the lock.
	if sum, n, err := fileSum(dest); err == nil && sum == want {
		inst.Size, inst.AlreadyPresent = n, true
		return inst, nil
	}
	f, err := openPartial(dest + PartialSuffix)
	if err != nil {
		return nil, err
	}
	defer f.Close()

	d := &download{p: p, f: f, url: p.url(name), size: size, progress: req.Progress}
	if err := d.resume(); err != nil {
		return nil, err
	}
	inst.ResumedAt = d.have
	if err := d.fetch(ctx); err != nil {
		return nil, err
	}
	if err := d.verify(want); err != nil {
		os.Remove(f.Name())
		return nil, err
	}
	if err := install(f, dest); err != nil {
		return nil, err
	}
	inst.Size = d.have
	return inst, nil
}

// expected returns the sum and size (-1 if unknown) a model must have.
func expected(name, given string) (string, int64, error) {
	m, known := Lookup(name)
	if given == "" {
		if !known {
			return "", 0, fmt.Errorf("%w %q: give its sum with --sha256", ErrNoChecksum, name)
		}
		return m.SHA256, m.Size, nil
	}
	sum, err := ParseSHA256(given)
	if err != nil {
		return "", 0, err
	}
	if known && sum == m.SHA256 {
		return sum, m.Size, nil
	}
	return sum, -1, nil
}

func (p *Puller) url(name string) string {
	base := p.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	return strings.TrimSuffix(base, "/") + "/" + FileName(name)
}

func (p *Puller) stall() time.Duration {
	if p.StallTimeout <= 0 {
		return DefaultStallTimeout
	}
	return p.StallTimeout
}

// fileSum returns the SHA-256 sum and size of the file at path.
func fileSum(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, fmt.Errorf("models: read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// lockModel opens (or creates) the model's lock file and locks it, so
// that two pulls of one model cannot run at once. The lock file is never
// renamed or removed: a pull that opened it just before another finished
// still locks the same file, never the installed model.
func lockModel(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("models: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w (%s is locked)", ErrBusy, path)
		}
		return nil, fmt.Errorf("models: lock %s: %w", path, err)
	}
	return f, nil
}

// TODO(models): open the models directory itself without following a
// link planted in its place (openat with O_NOFOLLOW on each element).
//
// openPartial opens (or creates) the partial file. It follows no symbolic
// link and accepts only a regular file with one name, so that a link
// planted in the models directory cannot make a pull (run as root) write
// a file elsewhere.
func openPartial(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o644)
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("%w: %s is a symbolic link; remove it", ErrUnsafe, path)
	}
	if err != nil {
		return nil, fmt.Errorf("models: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("models: %w", err)
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !st.Mode().IsRegular() || !ok || sys.Nlink != 1 {
		f.Close()
		return nil, fmt.Errorf("%w: %s is not a plain file; remove it", ErrUnsafe, path)
	}
	return f, nil
}

// download is one Pull's transfer into the partial file.
type download struct {
	p        *Puller
	f        *os.File
	url      string
	size     int64 // expected size, -1 if unknown
	have     int64 // bytes in the file, all hashed into h
	h        hash.Hash
	progress func(done, total int64)
}

// resume hashes what an earlier download left in the partial file.
func (d *download) resume() error {
	d.h = sha256.New()
	st, err := d.f.Stat()
	if err != nil {
		return fmt.Errorf("models: %w", err)
	}
	if d.size >= 0 && st.Size() > d.size {
		return d.restart()
	}
	n, err := io.Copy(d.h, io.NewSectionReader(d.f, 0, st.Size()))
	if err != nil {
		return fmt.Errorf("models: read %s: %w", d.f.Name(), err)
	}
	d.have = n
	return nil
}

// restart empties the partial file.
func (d *download) restart() error {
	if err := d.f.Truncate(0); err != nil {
		return fmt.Errorf("models: %w", err)
	}
	d.h.Reset()
	d.have = 0
	return nil
}

// fetch downloads the rest of the file. A server that ignores the Range
// request, or that refuses it for a partial file that is not a prefix of
// its file, makes it start over.
func (d *download) fetch(ctx context.Context) error {
	if d.size >= 0 && d.have == d.size {
		return nil
	}
	for try := 0; ; try++ {
		resp, err := d.get(ctx)
		if err != nil {
			return err
		}
		total, again, err := d.accept(resp)
		if err != nil || again {
			resp.Body.Close()
			if err == nil && try == 0 {
				continue
			}
			if err == nil {
				err = fmt.Errorf("%w: the server refused to resume twice", ErrHTTP)
			}
			return err
		}
		err = d.copy(ctx, resp, total)
		resp.Body.Close()
		return err
	}
}

func (d *download) get(ctx context.Context) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.url, nil)
	if err != nil {
		return nil, fmt.Errorf("models: %w", err)
	}
	if d.have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", d.have))
	}
	client := d.p.HTTP
	if client == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.ResponseHeaderTimeout = d.p.stall()
		client = &http.Client{Transport: t}
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInterrupted, err)
	}
	return resp, nil
}

// accept checks the answer and returns the file's total size (-1 if the
// server does not say), or again = true to ask once more from scratch.
func (d *download) accept(resp *http.Response) (total int64, again bool, err error) {
	switch resp.StatusCode {
	case http.StatusOK:
		if err := d.restart(); err != nil {
			return 0, false, err
		}
		total = resp.ContentLength
	case http.StatusPartialContent:
		start, _, full, err := ParseContentRange(resp.Header.Get("Content-Range"))
		if err != nil || start != d.have {
			return 0, true, d.restart()
		}
		total = full
	case http.StatusRequestedRangeNotSatisfiable:
		// The partial file may be complete already; verify decides.
		_, _, full, err := ParseContentRange(resp.Header.Get("Content-Range"))
		if err == nil && full == d.have {
			return full, false, nil
		}
		return 0, true, d.restart()
	default:
		return 0, false, fmt.Errorf("%w: %s answered %s", ErrHTTP, d.url, resp.Status)
	}
	if total >= 0 && d.size >= 0 && total != d.size {
		return 0, false, fmt.Errorf("%w: the server offers %d bytes, the model has %d",
			ErrSize, total, d.size)
	}
	return total, false, nil
}

// copy appends the body to the partial file, hashing it.
func (d *download) copy(ctx context.Context, resp *http.Response, total int64) error {
	if resp.StatusCode == http.StatusRequestedRangeNotSatisfiable {
		return nil
	}
	if total < 0 {
		total = d.size
	}
	limit := total
	if limit < 0 {
		limit = MaxUnknownSize
	}
	if _, err := d.f.Seek(d.have, io.SeekStart); err != nil {
		return fmt.Errorf("models: %w", err)
	}
	stall := d.p.stall()
	var stalled atomic.Bool
	watchdog := time.AfterFunc(stall, func() {
		stalled.Store(true)
		resp.Body.Close()
	})
	defer watchdog.Stop()
	if d.progress != nil {
		d.progress(d.have, total)
	}
	buf := make([]byte, 256<<10)
	for {
		n, rerr := resp.Body.Read(buf)
		watchdog.Reset(stall)
		if n > 0 {
			if d.have+int64(n) > limit {
				return fmt.Errorf("%w: the server sent more than %d bytes", ErrSize, limit)
			}
			if _, err := d.f.Write(buf[:n]); err != nil {
				return fmt.Errorf("models: write %s: %w", d.f.Name(), err)
			}
			d.h.Write(buf[:n])
			d.have += int64(n)
			if d.progress != nil {
				d.progress(d.have, total)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			switch {
			case ctx.Err() != nil:
				rerr = ctx.Err()
			case stalled.Load():
				rerr = fmt.Errorf("nothing received for %v", stall)
			}
			return fmt.Errorf("%w after %d bytes: %w", ErrInterrupted, d.have, rerr)
		}
	}
	if total >= 0 && d.have < total {
		return fmt.Errorf("%w after %d of %d bytes", ErrInterrupted, d.have, total)
	}
	return nil
}

// verify checks the finished file's size, sum and structure.
func (d *download) verify(want string) error {
	if d.size >= 0 && d.have != d.size {
		return fmt.Errorf("%w: %d bytes, the model has %d", ErrSize, d.have, d.size)
	}
	got := hex.EncodeToString(d.h.Sum(nil))
	if got != want {
		return fmt.Errorf("%w: got %s, want %s", ErrChecksum, got, want)
	}
	if _, err := modelfile.Parse(d.f, d.have); err != nil {
		return fmt.Errorf("%w: %w", ErrNotModel, err)
	}
	return nil
}

// install makes the verified partial file the model: it syncs the file,
// renames it over dest while still holding its lock, and syncs the
// directory so that the rename survives a crash.
func install(f *os.File, dest string) error {
	if err := f.Sync(); err != nil {
		return fmt.Errorf("models: sync %s: %w", f.Name(), err)
	}
	if err := os.Rename(f.Name(), dest); err != nil {
		return fmt.Errorf("models: install %s: %w", dest, err)
	}
	return syncDir(filepath.Dir(dest))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("models: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("models: sync %s: %w", dir, err)
	}
	return nil
}

// ErrContentRange reports a Content-Range header that is not of the form
// "bytes FIRST-LAST/TOTAL" or "bytes */TOTAL".
var ErrContentRange = errors.New("models: malformed Content-Range")

// ParseContentRange parses a Content-Range header of a byte range. It
// returns first = last = -1 for "bytes */TOTAL" (an unsatisfiable range)
// and total = -1 for an unknown total ("/*").
func ParseContentRange(h string) (first, last, total int64, err error) {
	bad := func() (int64, int64, int64, error) {
		return 0, 0, 0, fmt.Errorf("%w: %q", ErrContentRange, h)
	}
	rest, ok := strings.CutPrefix(h, "bytes ")
	if !ok {
		return bad()
	}
	span, size, ok := strings.Cut(rest, "/")
	if !ok {
		return bad()
	}
	total = -1
	if size != "*" {
		if total, ok = parseCount(size); !ok {
			return bad()
		}
	}
	if span == "*" {
		if total < 0 {
			return bad()
		}
		return -1, -1, total, nil
	}
	a, b, ok := strings.Cut(span, "-")
	if !ok {
		return bad()
	}
	first, ok1 := parseCount(a)
	last, ok2 := parseCount(b)
	if !ok1 || !ok2 || last < first || (total >= 0 && last >= total) {
		return bad()
	}
	return first, last, total, nil
}

// parseCount parses a non-negative decimal without sign or spaces.
func parseCount(s string) (int64, bool) {
	if s == "" || len(s) > 18 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}
