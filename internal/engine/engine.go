//go:build linux && cgo

package engine

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	whisper "github.com/ggerganov/whisper.cpp/bindings/go"

	"github.com/asr-server/asr-server/internal/engine/modelfile"
)

// Engine is one whisper model loaded into memory. It transcribes one audio
// clip at a time; concurrent calls to Transcribe wait for each other. So do
// transcriptions on different engines of one process, because the Go
// bindings' callback registry is not safe for concurrent use.
type Engine struct {
	// mu serialises Transcribe and Close; it guards ctx.
	mu     sync.Mutex
	ctx    *whisper.Context
	abort  abortFlag
	info   Info
	logger *slog.Logger
	// vadModel is the voice activity model's path, empty when there is none.
	vadModel cString
	// lastSpeech holds the speech spans VAD found in the last
	// transcription; guarded by mu.
	lastSpeech [][2]int64
}

// Info describes a loaded model.
type Info struct {
	// Path is the model file as given to Load; Name is its base name.
	Path string
	Name string
	// Multilingual is false for English-only (".en") models.
	Multilingual bool
	// AudioLayers and State give the model's size: 4 and 384 for tiny,
	// 6 and 512 for base, 32 and 1280 for large.
	AudioLayers int
	State       int
}

// LoadError reports a model that could not be loaded. It matches ErrModel
// with errors.Is, as well as the underlying cause.
type LoadError struct {
	Path string
	Err  error
}

// Error returns "engine: load model PATH: CAUSE".
func (e *LoadError) Error() string {
	return fmt.Sprintf("engine: load model %s: %v", e.Path, e.Err)
}

// Unwrap returns ErrModel and the cause.
func (e *LoadError) Unwrap() []error { return []error{ErrModel, e.Err} }

// Load loads the whisper model at path. Before whisper.cpp sees the file,
// Load checks that it exists, is readable and is structurally a complete
// ggml whisper model, because whisper.cpp may abort the whole process on a
// damaged one; any problem is a *LoadError naming path.
//
// whisper.cpp's and ggml's log lines go to logger (nil discards them):
// information at debug level, warnings and errors at theirs. The native
// log is process-wide, so with several engines the lines go to the logger
// of the most recent Load.
func Load(path string, logger *slog.Logger) (*Engine, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	mf, err := modelfile.Inspect(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, &LoadError{Path: path, Err: err}
	}

	sink.setLogger(logger)
	initBackends()
	ctx := whisper.Whisper_init(path)
	if ctx == nil {
		return nil, &LoadError{Path: path, Err: errors.New("whisper.cpp could not load it")}
	}
	e := &Engine{
		ctx:    ctx,
		abort:  newAbortFlag(),
		logger: logger,
		info: Info{
			Path:         path,
			Name:         filepath.Base(path),
			Multilingual: ctx.Whisper_is_multilingual() != 0,
			AudioLayers:  int(mf.Hparams.AudioLayers),
			State:        int(mf.Hparams.AudioState),
		},
	}
	logger.Debug("model loaded", "model", e.info.Name, "multilingual", e.info.Multilingual)
	return e, nil
}

// Info describes the loaded model.
func (e *Engine) Info() Info { return e.info }

// Close frees the model. It waits for a running Transcribe to finish;
// later calls to Transcribe return ErrClosed. Close is idempotent.
func (e *Engine) Close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ctx == nil {
		return
	}
	e.ctx.Whisper_free()
	e.ctx = nil
	// The abort flag's few bytes stay allocated, so that Activity, which
	// runs without the lock, never reads freed memory.
	e.vadModel.free()
}

// Activity is a count that grows while a transcription computes: every
// graph node that whisper.cpp's compute threads run adds to it. A watchdog
// that sees it grow knows that a long transcription is busy, not hung. It
// may be called at any time, from any goroutine, also after Close.
func (e *Engine) Activity() uint64 { return e.abort.polls() }

// UseVAD makes transcriptions that ask for it skip what the Silero voice
// activity model at path finds to be silence or noise. The model is
// loaded once here, to check it.
func (e *Engine) UseVAD(path string) error {
	mf, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%w: VAD model: %w", ErrModel, err)
	}
	var magic [4]byte
	_, err = io.ReadFull(mf, magic[:])
	mf.Close()
	if err != nil || string(magic[:]) != "lmgg" {
		return fmt.Errorf("%w: VAD model %s: not a ggml model file", ErrModel, path)
	}
	if !vadModelOK(path) {
		return fmt.Errorf("%w: VAD model %s: whisper.cpp could not load it", ErrModel, path)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.vadModel.free()
	e.vadModel = newCString(path)
	return nil
}
