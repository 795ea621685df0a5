package formats

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/asr-server/asr-server/internal/transcript"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestGolden renders fixed results and compares the bytes with
// testdata/<name>.<format>.golden. Run with -update to rewrite the files
// after a deliberate change, and review the diff.
func TestGolden(t *testing.T) {
	wrapped := Options{MaxLineWidth: 20, MaxLinesPerCue: 2}
	tests := []struct {
		name    string
		r       *transcript.Result
		formats []Format
		opts    Options
	}{
		{"basic", basicResult(), []Format{JSON, Text, SRT, VTT, VerboseJSON}, Options{}},
		{"long", longResult(), []Format{SRT, VTT}, Options{}},
		{"wrap_split", wrapResult(), []Format{SRT, VTT}, wrapped},
		{"wrap_only", wrapResult(), []Format{SRT}, Options{MaxLineWidth: 20}},
		{"wrap_lines_only", wrapResult(), []Format{SRT}, Options{MaxLinesPerCue: 1}},
		{"empty", emptyTextResult(), []Format{SRT, VTT, Text}, Options{}},
		{"unicode", unicodeResult(), []Format{SRT, VTT, JSON}, Options{MaxLineWidth: 10,
			MaxLinesPerCue: 2}},
		{"markup", markupResult(), []Format{SRT, VTT, JSON}, Options{}},
		{"rounding", roundingResult(), []Format{SRT, VTT}, Options{}},
		{"words", wordsResult(), []Format{VerboseJSON, SRT}, wrapped},
		{"nowords", noWordsResult(), []Format{VerboseJSON}, Options{}},
		{"nothing", &transcript.Result{}, []Format{JSON, Text, SRT, VTT, VerboseJSON},
			Options{}},
	}
	for _, tt := range tests {
		for _, f := range tt.formats {
			name := tt.name + "." + string(f)
			t.Run(name, func(t *testing.T) {
				var b bytes.Buffer
				if err := Render(&b, tt.r, f, tt.opts); err != nil {
					t.Fatalf("Render: %v", err)
				}
				path := filepath.Join("testdata", name+".golden")
				compareGolden(t, path, b.Bytes())
			})
		}
	}
}

func compareGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func basicResult() *transcript.Result {
	return &transcript.Result{
		Task:     "transcribe",
		Language: "en",
		Duration: 7.5,
		Text:     "Hello there. How are you? Fine, thanks.",
		Model:    "ggml-base.en.bin",
		Segments: []transcript.Segment{
			{ID: 0, Start: 0, End: 2.5, Text: " Hello there.",
				Tokens:     []int{2425, 456, 13},
				AvgLogprob: -0.25, CompressionRatio: 0.875, NoSpeechProb: 0.015625},
			{ID: 1, Start: 2.5, End: 4.75, Text: " How are you?",
				Tokens:      []int{1012, 366, 291, 30},
				Temperature: 0.2, AvgLogprob: -0.5, CompressionRatio: 1.125},
			{ID: 2, Seek: 500, Start: 5.125, End: 7.5, Text: " Fine, thanks.",
				Tokens:     []int{12879, 11, 3231, 13},
				AvgLogprob: -0.125, CompressionRatio: 1},
		},
	}
}

func longResult() *transcript.Result {
	return &transcript.Result{Segments: []transcript.Segment{
		{Start: 59.5, End: 61.25, Text: " Under a minute, then over."},
		{Start: 5940.25, End: 5942, Text: " Ninety-nine minutes in."},
		{Start: 35999.5, End: 36000.5, Text: " Across ten hours."},
		{Start: 360000.5, End: 360003.75, Text: " Past one hundred hours."},
	}}
}

func wrapResult() *transcript.Result {
	return &transcript.Result{Segments: []transcript.Segment{
		{Start: 1, End: 11, Text: " The quick brown fox jumps over the lazy dog while" +
			" the cat watches from a sunny windowsill, unimpressed."},
		{Start: 12, End: 13, Text: " Short line."},
		{Start: 13, End: 14.5, Text: " Supercalifragilisticexpialidocious is long."},
	}}
}

func emptyTextResult() *transcript.Result {
	return &transcript.Result{
		Text: "One. Two.",
		Segments: []transcript.Segment{
			{Start: 0, End: 1, Text: ""},
			{Start: 1, End: 2, Text: "   "},
			{Start: 2, End: 3, Text: " One."},
			{Start: 3, End: 4, Text: "\n\t"},
			{Start: 4, End: 5, Text: " Two.\nStill two."},
			{Start: 5, End: 6, Text: ""},
		},
	}
}

func unicodeResult() *transcript.Result {
	return &transcript.Result{
		Text: "Ça va très bien, merci à vous. 日本語のテキストです。 Größe über Maß.",
		Segments: []transcript.Segment{
			{Start: 0, End: 3, Text: " Ça va très bien, merci à vous."},
			{Start: 3, End: 5, Text: " 日本語のテキストです。"},
			{Start: 5, End: 6, Text: " Größe über Maß."},
		},
	}
}

func markupResult() *transcript.Result {
	return &transcript.Result{
		Text: "a --> b <b>bold</b> & co",
		Segments: []transcript.Segment{
			{Start: 0, End: 1, Text: " a --> b"},
			{Start: 1, End: 2, Text: " <b>bold</b> & co"},
		},
	}
}

func roundingResult() *transcript.Result {
	return &transcript.Result{Segments: []transcript.Segment{
		{Start: -0.5, End: 0.0004, Text: " Starts before zero."},
		{Start: 0.0004, End: 1.9996, Text: " Rounds to two seconds."},
		{Start: 1.9996, End: 1.9996, Text: " Zero length."},
		{Start: 1.9994, End: 3.0005, Text: " Rounds down, then up."},
		{Start: 2.5, End: 4, Text: " Overlaps the previous one."},
		{Start: 6, End: 5, Text: " Ends before it starts."},
		{Start: 7.0015, End: 7.0025, Text: " Half milliseconds."},
	}}
}

func wordsResult() *transcript.Result {
	return &transcript.Result{
		Task:     "translate",
		Language: "de",
		Duration: 4,
		Text:     "Good morning, everyone. Let us begin today's meeting now.",
		Segments: []transcript.Segment{
			{ID: 0, Start: 0, End: 1.5, Text: " Good morning, everyone.",
				Tokens: []int{2205, 2446, 11, 1518, 13},
				Words: []transcript.Word{
					{Word: " Good", Start: 0, End: 0.4},
					{Word: " morning,", Start: 0.4, End: 0.9},
					{Word: " everyone.", Start: 0.9, End: 1.5},
				}},
			{ID: 1, Start: 1.5, End: 4, Text: " Let us begin today's meeting now.",
				Words: []transcript.Word{
					{Word: " Let", Start: 1.5, End: 1.7},
					{Word: " us", Start: 1.7, End: 1.8},
					{Word: " begin", Start: 1.8, End: 2.2},
					{Word: " today's", Start: 2.2, End: 2.9},
					{Word: " meeting", Start: 2.9, End: 3.5},
					{Word: " now.", Start: 3.5, End: 4},
				}},
		},
	}
}

func noWordsResult() *transcript.Result {
	return &transcript.Result{
		Language: "haw",
		Duration: 2,
		Text:     "Aloha <kākou> & mahalo.",
		Segments: []transcript.Segment{
			{ID: 0, Start: 0, End: 2, Text: " Aloha <kākou> & mahalo.",
				Words:      []transcript.Word{},
				AvgLogprob: -0.75, NoSpeechProb: 0.5},
		},
	}
}
