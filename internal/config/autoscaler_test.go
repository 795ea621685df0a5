package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestAutoscalerFromEnvironment(t *testing.T) {
	cfg, err := Load(writeFile(t, "[autoscaler]\nmax = 8\n"), false, []string{
		"ASR_AUTOSCALER_MIN=2", "ASR_AUTOSCALER_COOLDOWN=20s",
		"ASR_AUTOSCALER_DEPTH_PER_WORKER=0.5"})
	if err != nil {
		t.Fatal(err)
	}
	want := Autoscaler{Min: 2, Max: 8, MaxWait: Duration(30 * time.Second),
		DepthPerWorker: 0.5, Cooldown: Duration(20 * time.Second),
		PollInterval: Duration(5 * time.Second)}
	if cfg.Autoscaler != want {
		t.Fatalf("autoscaler %+v, want %+v", cfg.Autoscaler, want)
	}
}

func TestAutoscalerErrors(t *testing.T) {
	tests := []struct {
		file    string
		wantKey string
		wantMsg string
	}{
		{"min = -1", "autoscaler.min", "0 or more"},
		{"max = 0", "autoscaler.max", "from 1 to 1000"},
		{"max = 1001", "autoscaler.max", "from 1 to 1000"},
		{"min = 3\nmax = 2", "autoscaler.max", "at least autoscaler.min"},
		{`max_wait = "500ms"`, "autoscaler.max_wait", "at least 1s"},
		{"depth_per_worker = 0.0", "autoscaler.depth_per_worker", "positive number"},
		{"depth_per_worker = inf", "autoscaler.depth_per_worker", "positive number"},
		{`poll_interval = "0s"`, "autoscaler.poll_interval", "at least 1s"},
		{`cooldown = "2s"`, "autoscaler.cooldown", "at least autoscaler.poll_interval"},
		{"maximum = 2", "autoscaler.maximum", "unknown key"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := Load(writeFile(t, "[autoscaler]\n"+tt.file+"\n"), false, nil)
			var ce *Error
			if !errors.As(err, &ce) || ce.Key != tt.wantKey ||
				!strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("error %v, want key %s saying %q", err, tt.wantKey, tt.wantMsg)
			}
		})
	}
}
