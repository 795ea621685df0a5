package audio

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// stderrKeep is how much of ffmpeg's error output is kept.
const stderrKeep = 8 << 10

// demuxers names ffmpeg's demuxer for each sniffed format. ffmpeg is
// always told the format: left to guess, it may read the upload as a
// playlist or manifest (HLS, DASH, concat) that makes it open other files.
var demuxers = map[Format]string{
	FormatWAV:  "wav",
	FormatMP3:  "mp3",
	FormatAAC:  "aac",
	FormatOgg:  "ogg",
	FormatFLAC: "flac",
	FormatMP4:  "mov",
	FormatWebM: "matroska",
	FormatAIFF: "aiff",
	FormatCAF:  "caf",
	FormatAU:   "au",
	FormatAMR:  "amr",
	FormatASF:  "asf",
	FormatAVI:  "avi",
}

// runFFmpeg decodes data with ffmpeg to mono float32 at SampleRate. what
// names the input in error messages.
func runFFmpeg(ctx context.Context, data []byte, format Format, what string,
	opts Options) ([]float32, error) {
	prog := opts.FFmpeg
	if prog == "" {
		prog = "ffmpeg"
	}
	path, err := exec.LookPath(prog)
	if err != nil {
		return nil, fmt.Errorf("%w: %s needs ffmpeg, which is not installed on this server; "+
			"install ffmpeg to decode it", ErrUnsupported, what)
	}
	demuxer, ok := demuxers[format]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotAudio, what)
	}
	input, protocol := "pipe:0", "pipe"
	var stdin io.Reader = bytes.NewReader(data)
	if format == FormatMP4 {
		// An MP4 file often keeps its index (the moov box) after the
		// media, which ffmpeg cannot reach in a pipe.
		name, err := writeTemp(data, opts.TempDir)
		if err != nil {
			return nil, err
		}
		defer os.Remove(name)
		input, protocol, stdin = name, "file", nil
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// ffmpeg's own downmix weighs each channel by its position (0.707 for
	// each side of stereo); rematrix_maxval 1 scales the weights to sum to
	// one, which for stereo is the plain average that Downmix computes.
	// The protocol whitelist lets ffmpeg open nothing but its one input.
	cmd := exec.CommandContext(ctx, path, "-nostdin", "-hide_banner", "-loglevel", "error",
		"-protocol_whitelist", protocol, "-f", demuxer, "-i", input, "-vn", "-sn", "-dn", "-f", "f32le", "-ac", "1", "-rematrix_maxval", "1",
		"-ar", strconv.Itoa(SampleRate), "pipe:1")
	cmd.Stdin = stdin
	cmd.Env = append(os.Environ(), "AV_LOG_FORCE_NOCOLOR=1")
	cmd.WaitDelay = 2 * time.Second
	stderr := &tailBuffer{max: stderrKeep}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("audio: running ffmpeg: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: starting ffmpeg: %w", ErrDecoder, err)
	}

	limit := math.MaxInt
	if opts.MaxSeconds > 0 {
		limit = int(math.Min(opts.MaxSeconds*SampleRate, math.MaxInt32)) + 1
	}
	var output io.Reader = stdout
	if opts.Progress != nil {
		output = progressReader{r: stdout, progress: opts.Progress}
	}
	samples, readErr := readFloats(output, limit)
	if len(samples) >= limit {
		cancel()
	}
	waitErr := cmd.Wait()

	switch {
	case len(samples) >= limit:
		return nil, fmt.Errorf("%w: the %s input lasts more than the limit of %g s",
			ErrTooLong, what, opts.MaxSeconds)
	case ctx.Err() != nil:
		return nil, fmt.Errorf("audio: decoding %s with ffmpeg: %w", what, context.Cause(ctx))
	case waitErr != nil:
		var exit *exec.ExitError
		if !errors.As(waitErr, &exit) {
			return nil, fmt.Errorf("%w: running ffmpeg: %w", ErrDecoder, waitErr)
		}
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return nil, fmt.Errorf("%w: ffmpeg was killed by %v while decoding %s",
				ErrDecoder, ws.Signal(), what)
		}
		return nil, fmt.Errorf("%w: decoding %s with ffmpeg failed: %s",
			ErrMalformed, what, stderr.lastLine())
	case readErr != nil:
		return nil, fmt.Errorf("%w: reading ffmpeg output: %w", ErrDecoder, readErr)
	case len(samples) == 0:
		return nil, fmt.Errorf("%w: ffmpeg found no audio samples in the %s input",
			ErrEmpty, what)
	}
	return samples, nil
}

// progressReader calls progress after every read that returned data.
type progressReader struct {
	r        io.Reader
	progress func()
}

func (p progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.progress()
	}
	return n, err
}

// readFloats reads little-endian float32 samples until EOF or until it has
// limit of them, clamping each to [-1, 1].
func readFloats(r io.Reader, limit int) ([]float32, error) {
	var out []float32
	buf := make([]byte, 64<<10)
	have := 0
	for len(out) < limit {
		n, err := r.Read(buf[have:])
		have += n
		whole := have / 4 * 4
		for i := 0; i < whole && len(out) < limit; i += 4 {
			out = append(out, clamp(math.Float32frombits(binary.LittleEndian.Uint32(buf[i:]))))
		}
		have = copy(buf, buf[whole:have])
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// writeTemp stores data in a new temporary file and returns its name.
func writeTemp(data []byte, dir string) (string, error) {
	f, err := os.CreateTemp(dir, "asr-audio-*")
	if err != nil {
		return "", fmt.Errorf("audio: temporary file for ffmpeg: %w", err)
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("%w: temporary file for ffmpeg: %w", ErrDecoder, err)
	}
	return f.Name(), nil
}

// tailBuffer is an io.Writer that keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

// lastLine returns the last non-blank line written, without the
// "[component @ 0x...]" prefix that ffmpeg puts in front of many messages.
func (t *tailBuffer) lastLine() string {
	lines := strings.Split(strings.TrimSpace(string(t.buf)), "\n")
	line := strings.TrimSpace(lines[len(lines)-1])
	if strings.HasPrefix(line, "[") {
		if i := strings.Index(line, "] "); i > 0 {
			line = line[i+2:]
		}
	}
	if line == "" {
		return "no error message"
	}
	return line
}
