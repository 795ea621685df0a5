package config

import (
	"flag"
	"os"
)

// FromFlags registers -config on fs and returns a function that loads the
// configuration after fs is parsed. A missing file is an error when -config
// was given, and falls back to defaults and the environment when the
// default path is absent.
func FromFlags(fs *flag.FlagSet) func() (Config, error) {
	path := fs.String("config", DefaultPath, "configuration `file`")
	return func() (Config, error) {
		explicit := false
		fs.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "config" })
		return Load(*path, !explicit, os.Environ())
	}
}
