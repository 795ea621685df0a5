package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/asr-server/asr-server/internal/config"
	"github.com/asr-server/asr-server/internal/engine/modelfile"
	"github.com/asr-server/asr-server/internal/models"
	"github.com/asr-server/asr-server/internal/progress"
)

func runModel(ctx context.Context, a *app, args []string) error {
	sub := ""
	if len(args) > 0 {
		sub = args[0]
	}
	switch sub {
	case "list":
		return modelList(a, args[1:])
	case "pull":
		return modelPull(ctx, a, args[1:])
	case "use":
		return modelUse(a, args[1:])
	}
	fmt.Fprintln(a.stderr, "usage: asrctl model list | pull NAME | use NAME (see asrctl "+
		"model SUBCOMMAND -h)")
	return errUsage
}

// dirFlag registers --dir.
func dirFlag(fs *flag.FlagSet) *string {
	return fs.String("dir", models.DefaultDir, "models `directory`")
}

// modelInfo is one line of model list.
type modelInfo struct {
	Name         string `json:"name"`
	File         string `json:"file"`
	Size         int64  `json:"size"`
	SHA256       string `json:"sha256,omitempty"`
	Installed    bool   `json:"installed"`
	SizeMatches  bool   `json:"size_matches"`
	PartialBytes int64  `json:"partial_bytes,omitempty"`
	InUse        bool   `json:"in_use"`
	Catalog      bool   `json:"catalog"`
}

func modelList(a *app, args []string) error {
	fs := a.flagSet("model list", "")
	dir := dirFlag(fs)
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		fs.Usage()
		return errUsage
	}
	inUse := ""
	if cfg, err := a.config(); err == nil {
		inUse = cfg.Worker.Model
	} else {
		fmt.Fprintf(a.stderr, "asrctl: %v (the model in use is not shown)\n", err)
	}
	list := listModels(*dir, inUse)
	if a.jsonOut {
		return printJSON(a.stdout, list)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSIZE\tSTATUS")
	for _, m := range list {
		size := "-"
		if m.Size > 0 {
			size = progress.Bytes(m.Size)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", m.Name, size, m.status())
	}
	return tw.Flush()
}

func (m modelInfo) status() string {
	var s []string
	switch {
	case m.Installed && !m.Catalog:
		s = append(s, "installed (not in the catalog)")
	case m.Installed && m.SizeMatches:
		s = append(s, "installed")
	case m.Installed:
		s = append(s, "installed, but of another size")
	case m.PartialBytes > 0 && m.Size > 0:
		s = append(s, fmt.Sprintf("partial (%d%%)", m.PartialBytes*100/m.Size))
	case m.PartialBytes > 0:
		s = append(s, "partial ("+progress.Bytes(m.PartialBytes)+")")
	}
	if m.InUse {
		s = append(s, "in use")
	}
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, ", ")
}

// listModels describes the catalog's models and the other model files in
// dir; inUse is the path of the configured model.
func listModels(dir, inUse string) []modelInfo {
	var list []modelInfo
	seen := map[string]bool{}
	describe := func(name string, m models.Model, catalog bool) modelInfo {
		path := filepath.Join(dir, models.FileName(name))
		info := modelInfo{Name: name, File: path, Size: m.Size, SHA256: m.SHA256,
			Catalog: catalog, InUse: filepath.Clean(inUse) == path}
		if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() {
			info.Installed = true
			info.SizeMatches = st.Size() == m.Size
			if !catalog {
				info.Size = st.Size()
			}
		}
		if st, err := os.Stat(path + models.PartialSuffix); err == nil {
			info.PartialBytes = st.Size()
		}
		return info
	}
	for _, m := range models.Catalog() {
		seen[m.Name] = true
		list = append(list, describe(m.Name, m, true))
	}
	files, _ := filepath.Glob(filepath.Join(dir, "ggml-*.bin"))
	sort.Strings(files)
	for _, f := range files {
		name, err := models.ParseName(filepath.Base(f))
		if err == nil && !seen[name] {
			list = append(list, describe(name, models.Model{}, false))
		}
	}
	return list
}

func modelPull(ctx context.Context, a *app, args []string) error {
	fs := a.flagSet("model pull", "NAME [--sha256 HEX]")
	dir := dirFlag(fs)
	baseURL := fs.String("base-url", "", "download models from `URL`/ggml-NAME.bin "+
		"(default: $"+models.BaseURLEnv+", else "+models.DefaultBaseURL+")")
	sum := fs.String("sha256", "", "expected SHA-256 `sum`, for a model the catalog lacks")
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	name, err := oneArg(fs, rest, "model name")
	if err != nil {
		return err
	}
	if *baseURL == "" {
		*baseURL = a.env(models.BaseURLEnv)
	}
	p := &models.Puller{BaseURL: *baseURL, Dir: *dir}
	report, finish := a.downloadProgress(name)
	inst, err := p.Pull(ctx, models.Request{Name: name, SHA256: *sum, Progress: report})
	finish()
	if err != nil {
		if errors.Is(err, models.ErrInterrupted) {
			return fmt.Errorf("%w; run the same command again to resume", err)
		}
		return err
	}
	if a.jsonOut {
		return printJSON(a.stdout, inst)
	}
	if inst.AlreadyPresent {
		a.printf("%s is installed already and verified: %s\n", inst.Name, inst.Path)
	} else {
		a.printf("installed %s: %s (%s, sha256 %s)\n", inst.Name, inst.Path,
			progress.Bytes(inst.Size), inst.SHA256)
	}
	a.printf("select it with: asrctl model use %s\n", inst.Name)
	return nil
}

// downloadProgress returns a progress callback for a download and a
// function to call when it ends: a bar on a terminal, a line per tenth
// otherwise, nothing with --json.
func (a *app) downloadProgress(name string) (func(done, total int64), func()) {
	if a.jsonOut {
		return nil, func() {}
	}
	if width, tty := terminal(a.stdout); tty {
		d := progress.New(a.stdout, width)
		bar := d.Add(name)
		return func(done, total int64) { bar.Bytes("downloading", done, total) }, d.Render
	}
	last := -1
	return func(done, total int64) {
		if total <= 0 {
			return
		}
		if tenth := int(done * 10 / total); tenth > last {
			last = tenth
			a.printf("%s: %d%% of %s\n", name, tenth*10, progress.Bytes(total))
		}
	}, func() {}
}

func modelUse(a *app, args []string) error {
	fs := a.flagSet("model use", "NAME")
	dir := dirFlag(fs)
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	arg, err := oneArg(fs, rest, "model name")
	if err != nil {
		return err
	}
	name, err := models.ParseName(arg)
	if err != nil {
		return err
	}
	path, err := filepath.Abs(filepath.Join(*dir, models.FileName(name)))
	if err != nil {
		return err
	}
	if _, err := modelfile.Inspect(path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s is not installed (asrctl model pull %s): %w", name, name,
				err)
		}
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := models.SetConfigKey(a.configPath, "worker", "model", path); err != nil {
		return err
	}
	if a.jsonOut {
		return printJSON(a.stdout, map[string]string{"config": a.configPath, "model": path})
	}
	a.printf("%s: worker.model = %q\n", a.configPath, path)
	if env := config.EnvName("worker.model"); a.env(env) != "" {
		fmt.Fprintf(a.stderr, "asrctl: note: %s is set and overrides the file\n", env)
	}
	a.printf("workers load it when they start: systemctl restart 'asr-worker@*'\n")
	return nil
}
