// Package e2e runs the real asr-api and asr-worker binaries against a
// private redis-server and real whisper.cpp, as an operator would.
package e2e

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/asr-server/asr-server/internal/audio"
	"github.com/asr-server/asr-server/internal/redistest"
	"github.com/asr-server/asr-server/internal/testmodel"
)

var (
	binDir    string
	redisURL  string
	modelPath string
	jfkWAV    []byte
)

func TestMain(m *testing.M) {
	code, err := setup(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e setup:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func setup(m *testing.M) (int, error) {
	tmp, err := os.MkdirTemp("", "asr-e2e-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)
	binDir = filepath.Join(tmp, "bin")
	build := exec.Command("go", "build", "-o", binDir+"/", "../../cmd/asr-api",
		"../../cmd/asr-worker")
	if out, err := build.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("build daemons: %v\n%s", err, out)
	}
	modelPath = filepath.Join(tmp, "model.bin")
	if err := testmodel.WriteFile(modelPath, testmodel.Options{Seed: 1}); err != nil {
		return 0, err
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}",
		"github.com/ggerganov/whisper.cpp/bindings/go").Output()
	if err != nil {
		return 0, fmt.Errorf("locate the bindings module: %w", err)
	}
	jfkWAV, err = os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "samples", "jfk.wav"))
	if err != nil {
		return 0, err
	}
	srv, err := redistest.Start(redistest.Options{})
	if err != nil {
		return 0, err
	}
	defer srv.Stop()
	redisURL = srv.URL
	return m.Run(), nil
}

// daemon is a running asr-api or asr-worker process.
type daemon struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	output bytes.Buffer
	addr   chan string
	exited chan struct{}
	err    error
}

// srtCue matches the start of the first cue of an SRT document.
var srtCue = regexp.MustCompile(`\n1\n\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}\n`)

var listenRE = regexp.MustCompile(`msg="asr-api listening" addr=(\S+)`)

func startDaemon(t *testing.T, name, config string, args ...string) *daemon {
	t.Helper()
	d := &daemon{addr: make(chan string, 1), exited: make(chan struct{})}
	d.cmd = exec.Command(filepath.Join(binDir, name), append([]string{"-config", config},
		args...)...)
	pr, pw := io.Pipe()
	d.cmd.Stdout = pw
	d.cmd.Stderr = pw
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			d.mu.Lock()
			d.output.WriteString(line + "\n")
			d.mu.Unlock()
			if m := listenRE.FindStringSubmatch(line); m != nil {
				d.addr <- m[1]
			}
		}
	}()
	go func() {
		d.err = d.cmd.Wait()
		pw.Close()
		close(d.exited)
	}()
	t.Cleanup(func() {
		d.cmd.Process.Kill()
		<-d.exited
		if t.Failed() {
			t.Logf("%s output:\n%s", name, d.log())
		}
	})
	return d
}

func (d *daemon) log() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.output.String()
}

func (d *daemon) running() bool {
	select {
	case <-d.exited:
		return false
	default:
		return true
	}
}

// wait waits for the process to exit and returns its exit code.
func (d *daemon) wait(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case <-d.exited:
	case <-time.After(within):
		t.Fatalf("process still running after %v", within)
	}
	return d.cmd.ProcessState.ExitCode()
}

var prefixes int

// writeConfig writes a config for one test, with its own key prefix, the
// given model and extra lines for the [worker] section.
func writeConfig(t *testing.T, model, workerExtra string) string {
	t.Helper()
	prefixes++
	path := filepath.Join(t.TempDir(), "config.toml")
	text := fmt.Sprintf(`
[redis]
url = %q
prefix = "e2e%d"
op_timeout = "600ms"
[api]
listen = "127.0.0.1:0"
[queue]
lease = "2s"
[worker]
model = %q
threads = 1
%s
`, redisURL, prefixes, model, workerExtra)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func startAPI(t *testing.T, config string) string {
	t.Helper()
	d := startDaemon(t, "asr-api", config)
	select {
	case addr := <-d.addr:
		return "http://" + addr
	case <-time.After(20 * time.Second):
		t.Fatalf("asr-api did not start:\n%s", d.log())
	}
	return ""
}

type job struct {
	ID       string `json:"id"`
	State    string `json:"state"`
	Attempts int    `json:"attempts"`
	Error    *struct {
		Message string `json:"message"`
		Code    string `json:"code"`
	} `json:"error"`
	Result *struct {
		Text     string  `json:"text"`
		Language string  `json:"language"`
		Duration float64 `json:"duration"`
		Model    string  `json:"model"`
		Segments []struct {
			ID    int     `json:"id"`
			Start float64 `json:"start"`
			End   float64 `json:"end"`
			Text  string  `json:"text"`
		} `json:"segments"`
	} `json:"result"`
}

// submit uploads audio as a multipart form and returns the status and body.
func submit(t *testing.T, api, filename string, audio []byte) (int, []byte) {
	t.Helper()
	return submitForm(t, api, filename, audio, nil)
}

// submitForm uploads audio with extra form fields.
func submitForm(t *testing.T, api, filename string, audio []byte,
	fields map[string]string) (int, []byte) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	fw, _ := mw.CreateFormFile("file", filename)
	fw.Write(audio)
	mw.Close()
	resp, err := http.Post(api+"/v1/jobs", mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

func submitJob(t *testing.T, api, filename string, audio []byte) string {
	t.Helper()
	status, data := submit(t, api, filename, audio)
	if status != http.StatusAccepted {
		t.Fatalf("submit %s: status %d: %s", filename, status, data)
	}
	var j job
	if err := json.Unmarshal(data, &j); err != nil || j.ID == "" || j.State != "queued" {
		t.Fatalf("submit %s: %s", filename, data)
	}
	return j.ID
}

func getJob(t *testing.T, api, id string) job {
	t.Helper()
	resp, err := http.Get(api + "/v1/jobs/" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var j job
	if err := json.NewDecoder(resp.Body).Decode(&j); err != nil || resp.StatusCode != 200 {
		t.Fatalf("get job %s: status %d, %v", id, resp.StatusCode, err)
	}
	return j
}

// waitState polls the job until its state is one of states.
func waitState(t *testing.T, api, id string, states ...string) job {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		j := getJob(t, api, id)
		for _, s := range states {
			if j.State == s {
				return j
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s stuck in %s, want %v", id, j.State, states)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// vocabulary is the set of tokens of the generated model.
var vocabulary = func() map[string]bool {
	set := map[string]bool{}
	for _, w := range testmodel.Vocabulary(testmodel.Options{Seed: 1}) {
		set[w] = true
	}
	return set
}()

// fromVocabulary reports whether text is a concatenation of tokens, the
// first of which may have lost its leading space to trimming.
func fromVocabulary(text string) bool {
	return splits(text) || splits(" "+text)
}

func splits(text string) bool {
	ok := make([]bool, len(text)+1)
	ok[0] = true
	for end := 1; end <= len(text); end++ {
		for start := max(0, end-16); start < end && !ok[end]; start++ {
			ok[end] = ok[start] && vocabulary[text[start:end]]
		}
	}
	return ok[len(text)]
}

func TestTranscribesRealSpeech(t *testing.T) {
	config := writeConfig(t, modelPath, "")
	api := startAPI(t, config)

	// With no worker running, the API still accepts the job.
	id := submitJob(t, api, "jfk.wav", jfkWAV)
	if j := getJob(t, api, id); j.State != "queued" {
		t.Fatalf("with no worker, state %q, want queued", j.State)
	}
	startDaemon(t, "asr-worker", config, "-instance", "e2e-1")
	j := waitState(t, api, id, "succeeded", "failed")
	if j.State != "succeeded" || j.Attempts != 1 || j.Result == nil {
		t.Fatalf("job: %+v", j)
	}
	r := j.Result
	if r.Duration != 11.0 || r.Language != "en" || r.Model != "model.bin" {
		t.Errorf("result: duration %v language %q model %q", r.Duration, r.Language, r.Model)
	}
	if len(r.Segments) == 0 {
		t.Fatalf("no segments")
	}
	var texts []string
	for i, s := range r.Segments {
		if s.ID != i || s.Start < 0 || s.Start >= s.End || s.End > 11.0 {
			t.Errorf("segment %d: %+v", i, s)
		}
		if s.Text == "" || !fromVocabulary(s.Text) {
			t.Errorf("segment %d text %q is not made of the model's vocabulary", i, s.Text)
		}
		texts = append(texts, s.Text)
	}
	if r.Text != strings.Join(texts, " ") {
		t.Errorf("text %q is not the segments' text joined", r.Text)
	}

	// The job's event stream tells its whole story, and ends.
	resp, err := http.Get(api + "/v1/jobs/" + id + "/events")
	if err != nil {
		t.Fatal(err)
	}
	stream, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var kinds []string
	for _, line := range strings.Split(string(stream), "\n") {
		if k, ok := strings.CutPrefix(line, "event: "); ok {
			kinds = append(kinds, k)
		}
	}
	got := strings.Join(kinds, " ")
	if !strings.HasPrefix(got, "state state progress") || !strings.Contains(got, "segment") ||
		!strings.HasSuffix(got, "state") || !strings.Contains(string(stream),
		`data: {"state":"succeeded"}`) {
		t.Errorf("events: %s\n%s", got, stream)
	}
}

// wavFile builds a 16-bit mono WAV file with the given samples.
func wavFile(rate int, samples []int16) []byte {
	var b bytes.Buffer
	le := func(v any) { binary.Write(&b, binary.LittleEndian, v) }
	b.WriteString("RIFF")
	le(uint32(36 + 2*len(samples)))
	b.WriteString("WAVEfmt ")
	le(uint32(16))
	le(uint16(1))
	le(uint16(1))
	le(uint32(rate))
	le(uint32(2 * rate))
	le(uint16(2))
	le(uint16(16))
	b.WriteString("data")
	le(uint32(2 * len(samples)))
	le(samples)
	return b.Bytes()
}

func tone(rate int, seconds float64) []int16 {
	s := make([]int16, int(float64(rate)*seconds))
	for i := range s {
		s[i] = int16(8000 * math.Sin(2*math.Pi*440*float64(i)/float64(rate)))
	}
	return s
}

func TestBadInputIsRefusedAndNothingElseIsLost(t *testing.T) {
	config := writeConfig(t, modelPath, "")
	api := startAPI(t, config)
	worker := startDaemon(t, "asr-worker", config, "-instance", "e2e-bad")

	refused := []struct {
		name   string
		audio  []byte
		status int
		code   string
	}{
		{"empty", nil, 400, "empty_file"},
		{"text", []byte("this is not audio at all, just some text"), 415,
			"unsupported_format"},
	}
	for _, tc := range refused {
		status, data := submit(t, api, tc.name, tc.audio)
		var eb struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		json.Unmarshal(data, &eb)
		if status != tc.status || eb.Error.Code != tc.code || eb.Error.Message == "" {
			t.Errorf("%s: status %d body %s, want %d %s", tc.name, status, data, tc.status,
				tc.code)
		}
	}

	failing := []struct {
		name    string
		audio   []byte
		code    string
		message string
	}{
		{"truncated header", wavFile(16000, tone(16000, 1))[:30], "invalid_audio",
			"malformed"},
		{"zero samples", wavFile(16000, nil), "invalid_audio", "no audio"},
		{"0.2 s clip", wavFile(16000, tone(16000, 0.2)), "invalid_audio", "too short"},
	}
	for _, tc := range failing {
		id := submitJob(t, api, tc.name, tc.audio)
		j := waitState(t, api, id, "succeeded", "failed")
		if j.State != "failed" || j.Error == nil || j.Error.Code != tc.code ||
			!strings.Contains(j.Error.Message, tc.message) || j.Attempts != 1 {
			t.Errorf("%s: job %+v error %+v, want failed %s mentioning %q", tc.name, j,
				j.Error, tc.code, tc.message)
		}
	}

	id := submitJob(t, api, "jfk.wav", jfkWAV)
	if j := waitState(t, api, id, "succeeded", "failed"); j.State != "succeeded" {
		t.Fatalf("good job after bad ones: %+v", j)
	}
	if !worker.running() {
		t.Fatalf("worker exited")
	}
}

// longSpeech repeats jfk.wav's samples so that a job runs long enough to
// be interrupted.
func longSpeech(t *testing.T, times int) []byte {
	t.Helper()
	pcm, err := audio.ParseWAV(jfkWAV)
	if err != nil {
		t.Fatal(err)
	}
	samples := make([]int16, 0, len(pcm.Samples)*times)
	for range times {
		for _, v := range pcm.Samples {
			samples = append(samples, int16(v*32767))
		}
	}
	return wavFile(16000, samples)
}

// stopMidJob starts the API and a worker with config, submits a long job
// and sends the worker SIGTERM while the job runs. The worker must exit 0.
func stopMidJob(t *testing.T, config string) (api, id string, worker *daemon) {
	t.Helper()
	api = startAPI(t, config)
	worker = startDaemon(t, "asr-worker", config, "-instance", "e2e-stopping")
	id = submitJob(t, api, "long.wav", longSpeech(t, 4))
	waitState(t, api, id, "running")
	worker.cmd.Process.Signal(syscall.SIGTERM)
	if code := worker.wait(t, 5*time.Minute); code != 0 {
		t.Fatalf("worker exit code %d after SIGTERM", code)
	}
	return api, id, worker
}

func TestStopFinishesTheCurrentJob(t *testing.T) {
	api, id, _ := stopMidJob(t, writeConfig(t, modelPath, `stop_timeout = "4m"`))
	if j := getJob(t, api, id); j.State != "succeeded" || j.Attempts != 1 {
		t.Fatalf("job after a graceful stop: %+v", j)
	}
}

func TestStopPastBudgetHandsTheJobBack(t *testing.T) {
	config := writeConfig(t, modelPath, `stop_timeout = "1ms"`)
	api, id, worker := stopMidJob(t, config)
	if j := getJob(t, api, id); j.State != "queued" || j.Attempts != 0 {
		t.Fatalf("job after a stop past the budget: %+v", j)
	}
	if !strings.Contains(worker.log(), "job handed back") {
		t.Errorf("worker log does not say the job was handed back")
	}
	startDaemon(t, "asr-worker", config, "-instance", "e2e-next")
	if j := waitState(t, api, id, "succeeded", "failed"); j.State != "succeeded" ||
		j.Attempts != 1 {
		t.Fatalf("handed-back job: %+v", j)
	}
}

func TestWorkerRefusesBadModel(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.bin")
	os.WriteFile(garbage, bytes.Repeat([]byte("not a model "), 1000), 0o600)
	for _, model := range []string{filepath.Join(dir, "absent.bin"), garbage} {
		config := writeConfig(t, model, "")
		w := startDaemon(t, "asr-worker", config)
		if code := w.wait(t, 30*time.Second); code != 1 {
			t.Errorf("model %s: exit code %d, want 1", model, code)
		}
		if !strings.Contains(w.log(), model) {
			t.Errorf("model %s: error does not name the path:\n%s", model, w.log())
		}
	}
}

func TestCancelStopsARunningJob(t *testing.T) {
	config := writeConfig(t, modelPath, "")
	api := startAPI(t, config)
	worker := startDaemon(t, "asr-worker", config, "-instance", "e2e-cancel")
	id := submitJob(t, api, "long.wav", longSpeech(t, 4))
	waitState(t, api, id, "running")
	req, _ := http.NewRequest("DELETE", api+"/v1/jobs/"+id, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("cancel: status %d", resp.StatusCode)
	}
	// The worker drops the canceled job and is free for the next one.
	next := submitJob(t, api, "jfk.wav", jfkWAV)
	if j := waitState(t, api, next, "succeeded", "failed"); j.State != "succeeded" {
		t.Fatalf("job after a cancel: %+v", j)
	}
	if j := getJob(t, api, id); j.State != "canceled" || j.Result != nil {
		t.Fatalf("canceled job: %+v", j)
	}
	if !strings.Contains(worker.log(), "job canceled") {
		t.Errorf("worker log does not mention the cancel:\n%s", worker.log())
	}
}

func TestVADSkipsSilence(t *testing.T) {
	vad, err := filepath.Abs("../../../shared/data/silero-vad-v6.2.0-ggml.bin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(vad); err != nil {
		t.Skipf("VAD model missing (shared/data beside the checkout): %v", err)
	}
	config := writeConfig(t, modelPath, fmt.Sprintf("vad_model = %q", vad))
	api := startAPI(t, config)
	worker := startDaemon(t, "asr-worker", config, "-instance", "e2e-vad")
	silence := wavFile(16000, make([]int16, 10*16000))
	id := submitJob(t, api, "silence.wav", silence)
	j := waitState(t, api, id, "succeeded", "failed")
	if j.State != "succeeded" || len(j.Result.Segments) != 0 || j.Result.Text != "" {
		t.Fatalf("silence with VAD: %+v %+v", j, j.Result)
	}
	// Switched off per request, the stand-in model invents words.
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("vad", "false")
	fw, _ := mw.CreateFormFile("file", "silence.wav")
	fw.Write(silence)
	mw.Close()
	resp, err := http.Post(api+"/v1/jobs", mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	var off job
	json.NewDecoder(resp.Body).Decode(&off)
	resp.Body.Close()
	j = waitState(t, api, off.ID, "succeeded", "failed")
	if j.State != "succeeded" || len(j.Result.Segments) == 0 {
		t.Fatalf("silence without VAD: %+v %+v", j, j.Result)
	}
	if !strings.Contains(worker.log(), "voice activity detection on") {
		t.Errorf("worker log does not report VAD")
	}
}

// TestREADMECurlExamples runs the README's curl examples, as written,
// against the real daemons; any HTTP error fails them.
func TestREADMECurlExamples(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const start = "```sh\napi=http://127.0.0.1:8080\n"
	i := strings.Index(string(readme), start)
	if i < 0 {
		t.Fatal("README has no curl example block starting with api=http://127.0.0.1:8080")
	}
	block := string(readme)[i+len("```sh\n"):]
	block = block[:strings.Index(block, "```")]
	config := writeConfig(t, modelPath, "")
	api := startAPI(t, config)
	startDaemon(t, "asr-worker", config, "-instance", "e2e-readme")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "speech.wav"), jfkWAV, 0o600)
	script := "set -euo pipefail\n" +
		`curl() { command curl -sS --fail-with-body "$@"; }` + "\n" +
		strings.Replace(block, "http://127.0.0.1:8080", api, 1)
	cmd := exec.Command("bash", "-c", script)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("README examples failed: %v\n%s\nscript:\n%s", err, out, script)
	}
	for _, want := range []string{`event: state`, `data: {"state":"succeeded"}`,
		`"state":"succeeded"`, `"queued":`, `"words":[{`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !srtCue.Match(out) {
		t.Errorf("output has no SRT cue:\n%s", out)
	}
}
