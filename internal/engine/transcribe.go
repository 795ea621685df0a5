//go:build linux && cgo

package engine

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"
	"time"

	whisper "github.com/ggerganov/whisper.cpp/bindings/go"

	"github.com/asr-server/asr-server/internal/transcript"
)

// Params tune one transcription.
type Params struct {
	// Language is a code such as "en" or "de" (an English name such as
	// "german" works too), or "auto" or "" to detect it. English-only
	// models accept only "en" and "auto".
	Language string
	// Threads is the number of CPU threads; 0 means runtime.NumCPU().
	Threads int
	// Translate makes a multilingual model write English whatever the
	// language spoken. English-only models ignore it.
	Translate bool
	// Prompt is text that precedes the audio, to steer spelling and style.
	Prompt string
	// Temperature is the sampling temperature. 0 decodes greedily and
	// raises the temperature step by step for windows whose decoding
	// fails whisper's quality checks; a positive value is used as it is.
	Temperature float64
	// WordTimestamps adds each word's time span to the segments.
	WordTimestamps bool
	// VAD skips silence and noise with the model given to UseVAD; without
	// one it has no effect. VADThreshold (0 to 1, 0 for whisper's 0.5) is
	// the speech probability above which audio counts as speech.
	VAD          bool
	VADThreshold float64
	// BeamSize > 1 decodes with beam search; BestOf (> 0) is the number
	// of candidates sampled at temperatures above 0.
	BeamSize int
	BestOf   int
	// NoSpeechThreshold (> 0) replaces whisper's no-speech threshold.
	NoSpeechThreshold float64
	// MaxSegmentLength (> 0) bounds segments in characters; SplitOnWord
	// keeps words whole when they are split.
	MaxSegmentLength int
	SplitOnWord      bool
	// OnSegment, if set, is called with each segment as soon as whisper
	// has decoded it, before the whole audio is done. Its times are
	// clamped to the audio but not yet tidied as in the final result.
	OnSegment func(transcript.Segment)
}

// fullMu serialises whisper_full across the process: the Go bindings keep
// their callbacks in package-level maps without a lock, so two
// transcriptions running at once, even on different engines, could crash
// the process.
var fullMu sync.Mutex

// Transcribe transcribes mono 16 kHz samples. progress, if not nil, is
// called with whisper.cpp's progress in percent (0 to 99) as each 30 s
// window starts, and with 100 when done.
//
// Cancelling ctx stops whisper.cpp within one graph computation, and
// Transcribe then returns an error wrapping ctx.Err(). Audio of fewer than
// MinSamples samples yields ErrAudioTooShort; a language the model cannot
// transcribe yields ErrLanguage.
func (e *Engine) Transcribe(ctx context.Context, samples []float32, p Params,
	progress func(percent int)) (transcript.Result, error) {
	duration := float64(len(samples)) / SampleRate
	if err := ctx.Err(); err != nil {
		return transcript.Result{}, fmt.Errorf("engine: transcribe: %w", err)
	}
	if len(samples) < MinSamples {
		return transcript.Result{}, fmt.Errorf("%w: %.2f s of audio, need at least %.2f s",
			ErrAudioTooShort, duration, float64(MinSamples)/SampleRate)
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ctx == nil {
		return transcript.Result{}, ErrClosed
	}
	params, err := e.params(p)
	if err != nil {
		return transcript.Result{}, err
	}
	prompt := newCString(p.Prompt)
	defer prompt.free()
	if p.Prompt != "" {
		setPrompt(&params, prompt)
	}
	if p.VAD && e.vadModel.p != nil {
		setVAD(&params, e.vadModel, p.VADThreshold, 0)
	}

	fullMu.Lock()
	defer fullMu.Unlock()

	// Cancellation: ctx's end raises the abort flag, which ggml polls while
	// computing; the encoder-begin callback also refuses to start a window.
	e.abort.set(false)
	stopped := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		e.abort.set(true)
		close(stopped)
	})
	var onProgress func(int)
	if progress != nil {
		// whisper.cpp computes progress from the position of its window,
		// which passes 100 % when the last window reaches past the end.
		onProgress = func(percent int) { progress(min(max(percent, 0), 99)) }
	}
	started := time.Now()
	var onSegment func(int)
	if p.OnSegment != nil {
		onSegment = func(n int) {
			total := e.ctx.Whisper_full_n_segments()
			for i := max(total-n, 0); i < total; i++ {
				start := clamp(float64(e.ctx.Whisper_full_get_segment_t0(i))/100, 0, duration)
				end := clamp(float64(e.ctx.Whisper_full_get_segment_t1(i))/100, start, duration)
				p.OnSegment(transcript.Segment{ID: i, Start: roundMs(start), End: roundMs(end),
					Text: strings.TrimSpace(e.ctx.Whisper_full_get_segment_text(i))})
			}
		}
	}
	err = e.ctx.Whisper_full(params, samples,
		func() bool { return ctx.Err() == nil }, onSegment, onProgress)
	if !stop() {
		<-stopped
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return transcript.Result{}, fmt.Errorf("engine: transcribe: %w", ctxErr)
	}
	if err != nil {
		return transcript.Result{}, fmt.Errorf("%w: whisper_full: %w", ErrInference, err)
	}

	e.lastSpeech = speechSpans(e.ctx)
	res := buildResult(e.segments(p.WordTimestamps), duration)
	res.Task = "transcribe"
	if p.Translate && e.info.Multilingual {
		res.Task = "translate"
	}
	// TODO(engine): whisper.cpp 1.9.5 exposes neither the temperature a
	// fallback reached per window nor a segment's no-speech probability;
	// segments report the requested temperature and a no_speech_prob of 0.
	for i := range res.Segments {
		res.Segments[i].Temperature = p.Temperature
	}
	langID := e.ctx.Whisper_full_lang_id()
	res.Language = whisper.Whisper_lang_str(langID)
	if lang, _ := e.language(p.Language); lang < 0 && ctx.Err() == nil {
		res.LanguageProbability = e.languageProbability(samples, langID, params.Threads())
	}
	res.Model = e.info.Name
	e.logger.Debug("transcribed", "audio_s", duration, "segments", len(res.Segments),
		"language", res.Language, "elapsed", time.Since(started))
	if progress != nil {
		progress(100)
	}
	return res, nil
}

// params builds whisper.cpp's parameters for p.
func (e *Engine) params(p Params) (whisper.Params, error) {
	lang, err := e.language(p.Language)
	if err != nil {
		return whisper.Params{}, err
	}
	threads := p.Threads
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	strategy := whisper.SAMPLING_GREEDY
	if p.BeamSize > 1 {
		strategy = whisper.SAMPLING_BEAM_SEARCH
	}
	params := e.ctx.Whisper_full_default_params(strategy)
	params.SetThreads(threads)
	if p.BeamSize > 1 {
		params.SetBeamSize(p.BeamSize)
	}
	if p.MaxSegmentLength > 0 {
		params.SetMaxSegmentLength(p.MaxSegmentLength)
		params.SetSplitOnWord(p.SplitOnWord)
	}
	setSampling(&params, p.BestOf, p.NoSpeechThreshold)
	params.SetTranslate(p.Translate && e.info.Multilingual)
	if p.Temperature > 0 {
		params.SetTemperature(float32(p.Temperature))
		params.SetTemperatureFallback(0)
	}
	params.SetTokenTimestamps(p.WordTimestamps)
	if err := params.SetLanguage(lang); err != nil {
		return whisper.Params{}, fmt.Errorf("%w: %q: %w", ErrLanguage, p.Language, err)
	}
	params.SetPrintProgress(false)
	params.SetPrintRealtime(false)
	params.SetPrintTimestamps(false)
	params.SetPrintSpecial(false)
	e.abort.attach(&params)
	return params, nil
}

// languageProbability returns the detector's probability for language id
// on the first 30 s of samples, or 0 when it cannot tell. whisper_full
// does not keep it, so this costs one more encoder pass over that window.
func (e *Engine) languageProbability(samples []float32, id, threads int) float64 {
	window := samples[:min(len(samples), 30*SampleRate)]
	if err := e.ctx.Whisper_pcm_to_mel(window, threads); err != nil {
		return 0
	}
	probs, err := e.ctx.Whisper_lang_auto_detect(0, threads)
	if err != nil || id < 0 || id >= len(probs) {
		return 0
	}
	return math.Round(float64(probs[id])*1e4) / 1e4
}

// CheckLanguage reports whether the model can transcribe the given
// language (a code, an English name, or "auto"); the error wraps
// ErrLanguage.
func (e *Engine) CheckLanguage(language string) error {
	_, err := e.language(language)
	return err
}

// language returns whisper.cpp's id for the requested language, or -1 to
// detect it.
func (e *Engine) language(requested string) (int, error) {
	code := strings.ToLower(strings.TrimSpace(requested))
	if !e.info.Multilingual {
		if code == "" || code == "auto" || code == "en" || code == "english" {
			return 0, nil
		}
		return 0, fmt.Errorf("%w: %q: model %s is English-only",
			ErrLanguage, requested, e.info.Name)
	}
	if code == "" || code == "auto" {
		return -1, nil
	}
	id := langID(code)
	if id < 0 {
		return 0, fmt.Errorf("%w: %q", ErrLanguage, requested)
	}
	return id, nil
}

// segments reads the segments of the last whisper_full, with their text
// tokens; token times are read only when they were computed.
func (e *Engine) segments(tokenTimes bool) []rawSegment {
	eot := int(e.ctx.Whisper_token_eot())
	n := e.ctx.Whisper_full_n_segments()
	raw := make([]rawSegment, n)
	for i := range raw {
		raw[i] = rawSegment{
			t0:   e.ctx.Whisper_full_get_segment_t0(i),
			t1:   e.ctx.Whisper_full_get_segment_t1(i),
			text: e.ctx.Whisper_full_get_segment_text(i),
		}
		for j := range e.ctx.Whisper_full_n_tokens(i) {
			id := int(e.ctx.Whisper_full_get_token_id(i, j))
			if id >= eot {
				continue // special and timestamp tokens
			}
			tok := rawToken{id: id, text: e.ctx.Whisper_full_get_token_text(i, j),
				plog: tokenLogprob(e.ctx, i, j), t0: -1, t1: -1}
			if tokenTimes {
				tok.t0, tok.t1 = tokenSpan(e.ctx, i, j)
			}
			raw[i].tokens = append(raw[i].tokens, tok)
		}
	}
	return raw
}
