//go:build linux && cgo

package engine

import (
	"context"
	"strings"
	"testing"

	"github.com/asr-server/asr-server/internal/transcript"
)

func TestDecodingOptions(t *testing.T) {
	ctx := context.Background()
	plain, err := shared.Transcribe(ctx, jfk, Params{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var live []string
	short, err := shared.Transcribe(ctx, jfk, Params{MaxSegmentLength: 8, SplitOnWord: true,
		WordTimestamps: true,
		OnSegment:      func(s transcript.Segment) { live = append(live, s.Text) }}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Segments as decoded: each is one word or at most the limit long.
	for _, text := range live {
		if len(strings.Fields(text)) > 1 && len(text) > 8 {
			t.Errorf("decoded segment %q is longer than 8 characters", text)
		}
	}
	if a, b := strings.Fields(strings.Join(live, " ")), strings.Fields(short.Text); strings.Join(
		a, " ") != strings.Join(b, " ") || len(live) < len(plain.Segments) {
		t.Errorf("live segments %q do not make the text %q (plain: %d segments)", live,
			short.Text, len(plain.Segments))
	}
	for _, s := range short.Segments {
		if len(s.Words) == 0 {
			t.Errorf("segment %q has no words", s.Text)
		}
	}
	fixed, err := shared.Transcribe(ctx, jfk, Params{Temperature: 0.4, BestOf: 2,
		NoSpeechThreshold: 0.9, BeamSize: 2, Prompt: "And so, my fellow Americans"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range fixed.Segments {
		if s.Temperature != 0.4 {
			t.Errorf("segment temperature %v, want 0.4", s.Temperature)
		}
	}
}
