// Command asr-testmodel writes a whisper model with random weights, for
// demos and tests on machines without a real model. It transcribes speech
// into made-up words.
//
//	asr-testmodel -o PATH [-seed N] [-shape tiny|base]
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/asr-server/asr-server/internal/testmodel"
)

func main() {
	out := flag.String("o", "", "write the model to this `path` (required)")
	seed := flag.Uint64("seed", 1, "seed of the random weights")
	shape := flag.String("shape", "tiny", "layer shapes: tiny (15 MB) or base (whisper base sized)")
	flag.Parse()
	if *out == "" || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}

	opts := testmodel.Options{Seed: *seed}
	switch *shape {
	case "tiny":
	case "base":
		opts = testmodel.BaseSized(*seed)
	default:
		fmt.Fprintf(os.Stderr, "asr-testmodel: unknown shape %q\n", *shape)
		os.Exit(2)
	}
	if err := testmodel.WriteFile(*out, opts); err != nil {
		fmt.Fprintf(os.Stderr, "asr-testmodel: %v\n", err)
		os.Exit(1)
	}
}
