package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// clientOutput is what testdata/openai_client.py prints.
type clientOutput struct {
	JSON struct {
		Text string `json:"text"`
	} `json:"json"`
	Text        string `json:"text"`
	SRT         string `json:"srt"`
	VTT         string `json:"vtt"`
	VerboseJSON struct {
		Language string  `json:"language"`
		Duration float64 `json:"duration"`
		Text     string  `json:"text"`
		Segments []struct {
			ID         int     `json:"id"`
			Start      float64 `json:"start"`
			End        float64 `json:"end"`
			Text       string  `json:"text"`
			Tokens     []int   `json:"tokens"`
			AvgLogprob float64 `json:"avg_logprob"`
		} `json:"segments"`
		Words []struct {
			Word  string  `json:"word"`
			Start float64 `json:"start"`
			End   float64 `json:"end"`
		} `json:"words"`
	} `json:"verbose_json"`
	Translation struct {
		Text string `json:"text"`
	} `json:"translation"`
	BadTemperature *struct {
		Status int    `json:"status"`
		Type   string `json:"type"`
		Body   struct {
			Code  string `json:"code"`
			Param string `json:"param"`
		} `json:"body"`
	} `json:"bad_temperature"`
	Models []string `json:"models"`
}

// TestOfficialOpenAIClient drives the OpenAI-compatible endpoints with
// OpenAI's own Python client, as existing applications would.
func TestOfficialOpenAIClient(t *testing.T) {
	if err := exec.Command("python3", "-c", "import openai").Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("the openai Python package is missing: %v", err)
		}
		t.Skipf("the openai Python package is missing: %v", err)
	}
	const token = "e2e-token-0123456789"
	config := writeConfig(t, modelPath, "")
	text, _ := os.ReadFile(config)
	text = []byte(strings.Replace(string(text), "[api]\n",
		"[api]\ntokens = [\""+token+"\"]\n", 1))
	os.WriteFile(config, text, 0o600)
	api := startAPI(t, config)
	startDaemon(t, "asr-worker", config, "-instance", "e2e-openai")
	audioPath := filepath.Join(t.TempDir(), "jfk.wav")
	os.WriteFile(audioPath, jfkWAV, 0o600)

	cmd := exec.Command("python3", "testdata/openai_client.py", api+"/v1", token, audioPath)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("client: %v\n%s", err, stderr.String())
	}
	var got clientOutput
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("client output %s: %v", out, err)
	}

	text0 := got.JSON.Text
	if text0 == "" || !fromVocabulary(text0) {
		t.Fatalf("json text %q", text0)
	}
	if strings.TrimSpace(got.Text) != text0 {
		t.Errorf("text format %q, json text %q", got.Text, text0)
	}
	v := got.VerboseJSON
	if v.Language != "english" || v.Duration != 11 || v.Text != text0 || len(v.Segments) == 0 {
		t.Fatalf("verbose_json: %+v", v)
	}
	var segTexts []string
	for i, s := range v.Segments {
		if s.ID != i || s.Start < 0 || s.Start >= s.End || s.End > 11 || len(s.Tokens) == 0 ||
			s.AvgLogprob >= 0 {
			t.Errorf("segment %d: %+v", i, s)
		}
		segTexts = append(segTexts, s.Text)
	}
	if len(v.Words) == 0 {
		t.Fatalf("no words with timestamp_granularities word")
	}
	var words []string
	for i, w := range v.Words {
		if w.Start < 0 || w.Start > w.End || w.End > 11 {
			t.Errorf("word %d: %+v", i, w)
		}
		words = append(words, w.Word)
	}
	if a, b := strings.Fields(strings.Join(words, " ")), strings.Fields(v.Text); strings.Join(a,
		" ") != strings.Join(b, " ") {
		t.Errorf("words %q do not spell the text %q", words, v.Text)
	}
	if !strings.HasPrefix(got.SRT, "1\n00:00:") || strings.Count(got.SRT, " --> ") !=
		len(v.Segments) {
		t.Errorf("srt: %q", got.SRT)
	}
	if !strings.HasPrefix(got.VTT, "WEBVTT\n\n00:00:") || strings.Count(got.VTT, " --> ") !=
		len(v.Segments) {
		t.Errorf("vtt: %q", got.VTT)
	}
	for _, seg := range segTexts {
		if !strings.Contains(got.SRT, seg) || !strings.Contains(got.VTT, seg) {
			t.Errorf("segment text %q missing from the subtitles", seg)
		}
	}
	if got.Translation.Text != text0 {
		t.Errorf("translation with an English-only model %q, want the transcript %q",
			got.Translation.Text, text0)
	}
	if b := got.BadTemperature; b == nil || b.Status != 400 || b.Type != "BadRequestError" ||
		b.Body.Code != "invalid_temperature" || b.Body.Param != "temperature" {
		t.Errorf("temperature 3: %+v", got.BadTemperature)
	}
	if len(got.Models) != 2 || got.Models[0] != "whisper-1" || got.Models[1] != "model.bin" {
		t.Errorf("models %v", got.Models)
	}
}

// syncPost sends a file to the synchronous endpoint with extra fields and
// headers and returns the answer.
func syncPost(url, filename string, audio []byte, fields,
	headers map[string]string) (*http.Response, []byte, error) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	fw, _ := mw.CreateFormFile("file", filename)
	fw.Write(audio)
	mw.Close()
	req, err := http.NewRequest("POST", url, &body)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp, data, err
}

// TestSyncEndpointEndsWithTheJob checks that the synchronous endpoint
// answers with the job's stored result in every format, and ends its wait
// with the right error when the job fails or is canceled.
func TestSyncEndpointEndsWithTheJob(t *testing.T) {
	config := writeConfig(t, modelPath, "")
	api := startAPI(t, config)
	startDaemon(t, "asr-worker", config, "-instance", "e2e-sync")
	url := api + "/v1/audio/transcriptions"

	for _, format := range []string{"json", "text", "srt", "vtt", "verbose_json"} {
		resp, data, err := syncPost(url, "jfk.wav", jfkWAV,
			map[string]string{"response_format": format}, nil)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %v %s", format, err, data)
		}
		id := resp.Header.Get("X-Job-Id")
		if j := getJob(t, api, id); j.State != "succeeded" {
			t.Fatalf("%s: answered while job %s is %s", format, id, j.State)
		}
		if stored := getResult(t, api, id, format); string(data) != string(stored) {
			t.Errorf("%s: answer %q, stored result %q", format, data, stored)
		}
	}

	clip := wavFile(16000, tone(16000, 0.2))
	resp, data, err := syncPost(url, "short.wav", clip, nil, nil)
	if err != nil || resp.StatusCode != http.StatusBadRequest ||
		!strings.Contains(string(data), `"code":"invalid_audio"`) ||
		!strings.Contains(string(data), `"param":"file"`) {
		t.Fatalf("too short a clip: %v %s", err, data)
	}

	// A long job, canceled while it runs; its id comes from the listing
	// of running jobs, the only one running in this test.
	long := longSpeech(t, 4)
	type answer struct {
		resp *http.Response
		data []byte
		err  error
	}
	answers := make(chan answer, 1)
	go func() {
		resp, data, err := syncPost(url, "long.wav", long, nil, nil)
		answers <- answer{resp, data, err}
	}()
	var j job
	deadline := time.Now().Add(20 * time.Second)
	for j.ID == "" {
		if time.Now().After(deadline) {
			t.Fatal("the long job never ran")
		}
		resp, err := http.Get(api + "/v1/jobs?state=running")
		if err != nil {
			t.Fatal(err)
		}
		var list struct{ Jobs []job }
		json.NewDecoder(resp.Body).Decode(&list)
		resp.Body.Close()
		if len(list.Jobs) == 1 {
			j = list.Jobs[0]
		}
		time.Sleep(20 * time.Millisecond)
	}
	req, _ := http.NewRequest("DELETE", api+"/v1/jobs/"+j.ID, nil)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("cancel: status %d", resp.StatusCode)
	}
	a := <-answers
	if a.err != nil || a.resp.StatusCode != http.StatusConflict ||
		a.resp.Header.Get("X-Job-Id") != j.ID ||
		!strings.Contains(string(a.data), `"code":"invalid_state"`) ||
		!strings.Contains(string(a.data), "canceled") {
		t.Fatalf("waiting on a canceled job: %v %+v %s", a.err, a.resp, a.data)
	}
}
