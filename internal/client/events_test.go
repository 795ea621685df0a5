package client

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func readAll(t testing.TB, input string) ([]Event, error) {
	t.Helper()
	r := bufio.NewReader(strings.NewReader(input))
	var events []Event
	for {
		ev, err := ReadEvent(r)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return events, nil
			}
			return events, err
		}
		events = append(events, ev)
	}
}

func TestReadEvent(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  []Event
	}{
		{"plain", "id: 1\nevent: state\ndata: {}\n\n",
			[]Event{{ID: "1", Type: "state", Data: []byte("{}")}}},
		{"no space after colon", "id:2\nevent:progress\ndata:x\n\n",
			[]Event{{ID: "2", Type: "progress", Data: []byte("x")}}},
		{"multi-line data", "data: a\ndata:\ndata:  b\n\n",
			[]Event{{Data: []byte("a\n\n b")}}},
		{"comments and blocks without data", ": hi\n\nevent: x\n\nid: 3\ndata: y\n\n",
			[]Event{{ID: "3", Data: []byte("y")}}},
		{"CRLF and CR", "id: 4\r\ndata: z\r\n\r\nid: 5\rdata: w\r\r",
			[]Event{{ID: "4", Data: []byte("z")}, {ID: "5", Data: []byte("w")}}},
		{"unknown fields", "retry: 10\nfoo\ndata: v\n\n", []Event{{Data: []byte("v")}}},
		{"unfinished event dropped", "data: a\n\ndata: b\n", []Event{{Data: []byte("a")}}},
		{"id with NUL ignored", "id: a\x00b\ndata: c\n\n", []Event{{Data: []byte("c")}}},
	}
	for _, tc := range tests {
		got, err := readAll(t, tc.input)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if len(got) != len(tc.want) {
			t.Errorf("%s: %d events %+v, want %d", tc.name, len(got), got, len(tc.want))
			continue
		}
		for i := range got {
			if got[i].ID != tc.want[i].ID || got[i].Type != tc.want[i].Type ||
				!bytes.Equal(got[i].Data, tc.want[i].Data) {
				t.Errorf("%s: event %d = %+v, want %+v", tc.name, i, got[i], tc.want[i])
			}
		}
	}
}

func TestReadEventTooLarge(t *testing.T) {
	input := "data: " + strings.Repeat("x", MaxEventBytes) + "\n\n"
	if _, err := readAll(t, input); !errors.Is(err, ErrEventTooLarge) {
		t.Fatalf("error %v, want ErrEventTooLarge", err)
	}
	many := strings.Repeat("data: "+strings.Repeat("y", 1000)+"\n", MaxEventBytes/1000)
	if _, err := readAll(t, many+"\n"); !errors.Is(err, ErrEventTooLarge) {
		t.Fatalf("many data lines: error %v, want ErrEventTooLarge", err)
	}
}

// writeEvent writes ev in the format the API uses.
func writeEvent(w *bytes.Buffer, ev Event) {
	w.WriteString("id: " + ev.ID + "\nevent: " + ev.Type + "\n")
	for _, line := range strings.Split(string(ev.Data), "\n") {
		w.WriteString("data: " + line + "\n")
	}
	w.WriteString("\n")
}

// FuzzReadEvent checks that any input parses without panicking into
// bounded events, and that events written the API's way read back equal.
func FuzzReadEvent(f *testing.F) {
	f.Add("id: 1-0\nevent: state\ndata: {\"state\":\"queued\"}\n\n", "x", "t", "d")
	f.Add(": keep-alive\n\ndata:a\r\ndata:b\r\n\r\n", "1-1", "progress", "{\"percent\":5}")
	f.Add("\xff\xfe\n\n\r\r:\n", "", "", "a\nb")
	f.Fuzz(func(t *testing.T, input, id, kind, data string) {
		events, _ := readAll(t, input)
		for _, ev := range events {
			if len(ev.Data) > MaxEventBytes {
				t.Fatalf("event of %d bytes", len(ev.Data))
			}
		}
		if strings.ContainsAny(id+kind, "\r\n\x00") || strings.Contains(data, "\r") ||
			len(id+kind+data) > 4096 {
			return
		}
		var buf bytes.Buffer
		want := Event{ID: id, Type: kind, Data: []byte(data)}
		writeEvent(&buf, want)
		got, err := readAll(t, buf.String())
		if err != nil || len(got) != 1 || got[0].ID != id || got[0].Type != kind ||
			string(got[0].Data) != data {
			t.Fatalf("round trip of %+v: %+v, %v", want, got, err)
		}
	})
}
