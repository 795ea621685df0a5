//go:build linux && cgo

package engine

/*
#cgo LDFLAGS: -lwhisper -lggml -lggml-base
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <whisper.h>
#include <ggml.h>
#include <ggml-backend.h>

extern void asrLogLine(int level, char *text);

static void asr_log(enum ggml_log_level level, const char *text, void *user_data) {
	(void)user_data;
	asrLogLine((int)level, (char *)text);
}

// Sends whisper.cpp's and ggml's log lines to asrLogLine. whisper.cpp hands
// its own callback to ggml again when it creates a context, so both end up
// here.
static void asr_log_install(void) {
	ggml_log_set(asr_log, NULL);
	whisper_log_set(asr_log, NULL);
}

static void asr_load_backends(void) {
	ggml_backend_load_all();
}

// What ggml's compute threads share with Go during an inference: the abort
// request, and a count of the times they asked for it, which grows with
// every graph node computed and so proves that the inference advances.
struct asr_compute {
	int abort;
	unsigned long long polls;
};

static bool asr_abort_requested(void *data) {
	struct asr_compute *c = data;
	__atomic_add_fetch(&c->polls, 1, __ATOMIC_RELAXED);
	return __atomic_load_n(&c->abort, __ATOMIC_RELAXED) != 0;
}

static void asr_abort_set(struct asr_compute *c, int v) {
	__atomic_store_n(&c->abort, v, __ATOMIC_RELAXED);
}

static unsigned long long asr_compute_polls(struct asr_compute *c) {
	return __atomic_load_n(&c->polls, __ATOMIC_RELAXED);
}

static float asr_token_plog(void *ctx, int seg, int tok) {
	return whisper_full_get_token_data((struct whisper_context *)ctx, seg, tok).plog;
}

static void asr_token_span(void *ctx, int seg, int tok, int64_t *t0, int64_t *t1) {
	struct whisper_context *c = ctx;
	*t0 = whisper_full_get_token_t0(c, seg, tok);
	*t1 = whisper_full_get_token_t1(c, seg, tok);
}

// Turns on voice activity detection with the model at path, tuned by
// threshold (0 keeps whisper's default) and min_silence_ms (0 likewise).
static void asr_params_set_vad(void *params, const char *path, float threshold,
		int min_silence_ms) {
	struct whisper_full_params *p = params;
	p->vad = true;
	p->vad_model_path = path;
	if (threshold > 0) p->vad_params.threshold = threshold;
	if (min_silence_ms > 0) p->vad_params.min_silence_duration_ms = min_silence_ms;
}

// Sets the number of sampled candidates and the no-speech threshold; 0
// keeps whisper's default for either.
static void asr_params_set_sampling(void *params, int best_of, float no_speech) {
	struct whisper_full_params *p = params;
	if (best_of > 0) p->greedy.best_of = best_of;
	if (no_speech > 0) p->no_speech_thold = no_speech;
}

static void asr_params_set_prompt(void *params, const char *prompt) {
	((struct whisper_full_params *)params)->initial_prompt = prompt;
}

// Loads and frees a VAD model, to check it before any job needs it.
static bool asr_vad_model_ok(const char *path) {
	struct whisper_vad_context_params cp = whisper_vad_default_context_params();
	cp.n_threads = 1;
	struct whisper_vad_context *v = whisper_vad_init_from_file_with_params(path, cp);
	if (v == NULL) return false;
	whisper_vad_free(v);
	return true;
}

static int asr_n_vad_segments(void *ctx) {
	return whisper_full_n_vad_segments((struct whisper_context *)ctx);
}

static void asr_vad_segment(void *ctx, int i, int64_t *t0, int64_t *t1) {
	*t0 = whisper_full_get_vad_segment_t0((struct whisper_context *)ctx, i);
	*t1 = whisper_full_get_vad_segment_t1((struct whisper_context *)ctx, i);
}

// Makes ggml poll c while it computes, and stop once c->abort is set.
static void asr_params_set_abort(void *params, struct asr_compute *c) {
	struct whisper_full_params *p = params;
	p->abort_callback = asr_abort_requested;
	p->abort_callback_user_data = c;
}
*/
import "C"

import (
	"sync"
	"unsafe"

	whisper "github.com/ggerganov/whisper.cpp/bindings/go"
)

var initOnce sync.Once

// initBackends routes the native libraries' logs and loads ggml's compute
// backends, once per process. Debian builds the CPU backend as loadable
// modules that whisper.cpp does not load by itself: without this,
// whisper_init aborts the process with GGML_ASSERT(device).
func initBackends() {
	initOnce.Do(func() {
		C.asr_log_install()
		C.asr_load_backends()
	})
}

// langID returns whisper.cpp's id of a language code ("de") or English
// name ("german"), or -1 if it knows no such language. Unlike
// whisper_lang_id it logs nothing for an unknown one.
func langID(name string) int {
	for id := range int(C.whisper_lang_max_id()) + 1 {
		if C.GoString(C.whisper_lang_str(C.int(id))) == name ||
			C.GoString(C.whisper_lang_str_full(C.int(id))) == name {
			return id
		}
	}
	return -1
}

// tokenLogprob returns the log probability of a token of the last
// transcription.
func tokenLogprob(ctx *whisper.Context, seg, tok int) float64 {
	return float64(C.asr_token_plog(unsafe.Pointer(ctx), C.int(seg), C.int(tok)))
}

// tokenSpan returns a token's start and end in 10 ms units, on the
// original audio's time line.
func tokenSpan(ctx *whisper.Context, seg, tok int) (t0, t1 int64) {
	var c0, c1 C.int64_t
	C.asr_token_span(unsafe.Pointer(ctx), C.int(seg), C.int(tok), &c0, &c1)
	return int64(c0), int64(c1)
}

// cString is a C copy of a Go string, freed by free.
type cString struct{ p *C.char }

func newCString(s string) cString { return cString{C.CString(s)} }

func (c cString) free() {
	if c.p != nil {
		C.free(unsafe.Pointer(c.p))
	}
}

// setVAD turns on voice activity detection in params with the model path.
func setVAD(params *whisper.Params, path cString, threshold float64, minSilenceMs int) {
	C.asr_params_set_vad(unsafe.Pointer(params), path.p, C.float(threshold),
		C.int(minSilenceMs))
}

// setSampling sets the number of candidates greedy sampling keeps and the
// no-speech threshold; zero keeps whisper's default.
func setSampling(params *whisper.Params, bestOf int, noSpeech float64) {
	C.asr_params_set_sampling(unsafe.Pointer(params), C.int(bestOf), C.float(noSpeech))
}

// setPrompt sets the initial prompt; prompt must outlive the call that
// uses params.
func setPrompt(params *whisper.Params, prompt cString) {
	C.asr_params_set_prompt(unsafe.Pointer(params), prompt.p)
}

// vadModelOK reports whether whisper.cpp can load the VAD model at path.
func vadModelOK(path string) bool {
	c := newCString(path)
	defer c.free()
	return bool(C.asr_vad_model_ok(c.p))
}

// speechSpans returns the speech the last transcription's VAD found, in
// 10 ms units on the original audio's time line.
func speechSpans(ctx *whisper.Context) [][2]int64 {
	n := int(C.asr_n_vad_segments(unsafe.Pointer(ctx)))
	spans := make([][2]int64, n)
	for i := range spans {
		var t0, t1 C.int64_t
		C.asr_vad_segment(unsafe.Pointer(ctx), C.int(i), &t0, &t1)
		spans[i] = [2]int64{int64(t0), int64(t1)}
	}
	return spans
}

// abortFlag lives in C memory, where whisper.cpp's compute threads poll
// it; setting it stops the running encoder or decoder graph, and the polls
// are counted.
type abortFlag struct{ p *C.struct_asr_compute }

func newAbortFlag() abortFlag {
	size := C.size_t(unsafe.Sizeof(C.struct_asr_compute{}))
	return abortFlag{p: (*C.struct_asr_compute)(C.calloc(1, size))}
}

func (f abortFlag) set(v bool) {
	n := C.int(0)
	if v {
		n = 1
	}
	C.asr_abort_set(f.p, n)
}

// polls is how often the compute threads have polled the flag so far.
func (f abortFlag) polls() uint64 { return uint64(C.asr_compute_polls(f.p)) }

// attach makes params poll the flag.
func (f abortFlag) attach(params *whisper.Params) {
	C.asr_params_set_abort(unsafe.Pointer(params), f.p)
}
