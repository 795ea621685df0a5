package models

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"

	"github.com/BurntSushi/toml"
)

// ErrEdit reports a config file that SetKey cannot change safely: it is
// not valid TOML, or the key sits in a construct the editor does not
// rewrite (a multi-line string, an inline table).
var ErrEdit = errors.New("models: cannot edit the config file")

// SetKey returns the TOML document text with key in table section set to
// the string value. Every other line, comments included, stays as it was:
// an existing assignment has its value replaced in place (a comment after
// it is kept), a missing key is added at the top of its table, and a
// missing table is appended. The result is checked by decoding both
// documents: they must differ in that one value only.
func SetKey(text, section, key, value string) (string, error) {
	before, err := decodeTOML(text)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrEdit, err)
	}
	lines := splitLines(text)
	edited, err := setLine(lines, section, key, value)
	if err != nil {
		return "", err
	}
	out := strings.Join(edited, "")
	after, err := decodeTOML(out)
	if err != nil {
		return "", fmt.Errorf("%w: the edited file does not parse: %w", ErrEdit, err)
	}
	table, _ := before[section].(map[string]any)
	if table == nil {
		if _, exists := before[section]; exists {
			return "", fmt.Errorf("%w: %s is not a table", ErrEdit, section)
		}
		table = map[string]any{}
		before[section] = table
	}
	table[key] = value
	if !reflect.DeepEqual(before, after) {
		return "", fmt.Errorf("%w: the edit would change more than %s.%s", ErrEdit, section,
			key)
	}
	return out, nil
}

func decodeTOML(text string) (map[string]any, error) {
	doc := map[string]any{}
	if _, err := toml.Decode(text, &doc); err != nil {
		return nil, err
	}
	return doc, nil
}

// splitLines splits text after each "\n", keeping the line ends.
func splitLines(text string) []string {
	var lines []string
	for text != "" {
		i := strings.IndexByte(text, '\n')
		if i < 0 {
			lines = append(lines, text)
			break
		}
		lines = append(lines, text[:i+1])
		text = text[i+1:]
	}
	return lines
}

// setLine edits or inserts the assignment among lines.
func setLine(lines []string, section, key, value string) ([]string, error) {
	eol := "\n"
	if len(lines) > 0 && strings.HasSuffix(lines[0], "\r\n") {
		eol = "\r\n"
	}
	assignment := key + " = " + quoteTOML(value) + eol
	var table []string
	header, commented := -1, -1
	inMulti := ""
	for i, line := range lines {
		if inMulti != "" {
			if strings.Count(line, inMulti)%2 == 1 {
				inMulti = ""
			}
			continue
		}
		body := strings.TrimSpace(line)
		if strings.HasPrefix(body, "[") {
			if t, ok := parseHeader(body); ok {
				table = t
				if equalPath(t, []string{section}) {
					header = i
				}
				continue
			}
		}
		keyPath, valueAt, ok := parseAssignment(line)
		if !ok {
			if header >= 0 && commented < 0 && equalPath(table, []string{section}) &&
				isCommentedKey(body, key) {
				commented = i
			}
			continue
		}
		full := append(append([]string(nil), table...), keyPath...)
		if equalPath(full, []string{section, key}) {
			replaced, err := replaceValue(line, valueAt, quoteTOML(value))
			if err != nil {
				return nil, err
			}
			out := append([]string(nil), lines...)
			out[i] = replaced
			return out, nil
		}
		if delim := opensMultiline(line[valueAt:]); delim != "" {
			inMulti = delim
		}
	}
	at := header + 1
	if commented >= 0 {
		at = commented + 1
	}
	if header < 0 {
		out := append([]string(nil), lines...)
		if n := len(out); n > 0 && !strings.HasSuffix(out[n-1], "\n") {
			out[n-1] += eol
		}
		if len(out) > 0 {
			out = append(out, eol)
		}
		return append(out, "["+section+"]"+eol, assignment), nil
	}
	out := append([]string(nil), lines[:at]...)
	if n := len(out); !strings.HasSuffix(out[n-1], "\n") {
		out[n-1] += eol
	}
	out = append(out, assignment)
	return append(out, lines[at:]...), nil
}

// isCommentedKey reports whether a comment line looks like a commented-out
// assignment of key, such as "# model = ...".
func isCommentedKey(body, key string) bool {
	rest, ok := strings.CutPrefix(body, "#")
	if !ok {
		return false
	}
	rest, ok = strings.CutPrefix(strings.TrimSpace(rest), key)
	return ok && strings.HasPrefix(strings.TrimSpace(rest), "=")
}

func equalPath(a, b []string) bool {
	return len(a) == len(b) && strings.Join(a, "\x00") == strings.Join(b, "\x00")
}

// parseHeader parses a table header line "[a.b] # comment". Array tables
// ("[[a]]") parse as a path no section equals.
func parseHeader(body string) ([]string, bool) {
	array := strings.HasPrefix(body, "[[")
	inner := strings.TrimPrefix(body, "[")
	if array {
		inner = strings.TrimPrefix(inner, "[")
	}
	path, rest, ok := parseKey(inner)
	if !ok {
		return nil, false
	}
	rest = strings.TrimLeft(rest, " \t")
	closing := "]"
	if array {
		closing = "]]"
	}
	rest, ok = strings.CutPrefix(rest, closing)
	if !ok {
		return nil, false
	}
	rest = strings.TrimSpace(rest)
	if rest != "" && !strings.HasPrefix(rest, "#") {
		return nil, false
	}
	if array {
		return append([]string{"\x00array"}, path...), true
	}
	return path, true
}

// parseAssignment parses the key of a line "key = value" and returns the
// offset of the value.
func parseAssignment(line string) (path []string, valueAt int, ok bool) {
	path, rest, ok := parseKey(line)
	if !ok {
		return nil, 0, false
	}
	rest = strings.TrimLeft(rest, " \t")
	if !strings.HasPrefix(rest, "=") {
		return nil, 0, false
	}
	rest = strings.TrimLeft(rest[1:], " \t")
	return path, len(line) - len(rest), true
}

// parseKey parses a dotted key, each part bare or quoted, after optional
// blanks, and returns the rest of s.
func parseKey(s string) ([]string, string, bool) {
	var path []string
	for {
		s = strings.TrimLeft(s, " \t")
		var part string
		switch {
		case strings.HasPrefix(s, `"`):
			end := closingQuote(s)
			if end < 0 {
				return nil, "", false
			}
			unq, err := strconv.Unquote(s[:end+1])
			if err != nil {
				return nil, "", false
			}
			part, s = unq, s[end+1:]
		case strings.HasPrefix(s, "'"):
			end := strings.IndexByte(s[1:], '\'')
			if end < 0 {
				return nil, "", false
			}
			part, s = s[1:end+1], s[end+2:]
		default:
			n := 0
			for n < len(s) && isBareKeyChar(s[n]) {
				n++
			}
			if n == 0 {
				return nil, "", false
			}
			part, s = s[:n], s[n:]
		}
		path = append(path, part)
		rest := strings.TrimLeft(s, " \t")
		if !strings.HasPrefix(rest, ".") {
			return path, s, true
		}
		s = rest[1:]
	}
}

func isBareKeyChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '-'
}

// closingQuote returns the index of the quote that ends the basic string
// starting at s[0], or -1.
func closingQuote(s string) int {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i
		case '\n':
			return -1
		}
	}
	return -1
}

// opensMultiline returns the delimiter of a multi-line string that a value
// opens and does not close on its line, or "".
func opensMultiline(value string) string {
	for _, delim := range []string{`"""`, `'''`} {
		if strings.HasPrefix(value, delim) && strings.Count(value, delim)%2 == 1 {
			return delim
		}
	}
	return ""
}

// replaceValue replaces the value starting at valueAt in line, keeping
// what follows it (blanks, a comment, the line end).
func replaceValue(line string, valueAt int, quoted string) (string, error) {
	value := line[valueAt:]
	end := -1
	switch {
	case strings.HasPrefix(value, `"""`), strings.HasPrefix(value, `'''`):
		return "", fmt.Errorf("%w: the value is a multi-line string", ErrEdit)
	case strings.HasPrefix(value, `"`):
		if end = closingQuote(value); end >= 0 {
			end++
		}
	case strings.HasPrefix(value, "'"):
		if end = strings.IndexByte(value[1:], '\''); end >= 0 {
			end += 2
		}
	default:
		end = strings.IndexAny(value, "#\r\n")
		if end < 0 {
			end = len(value)
		}
		end = len(strings.TrimRight(value[:end], " \t"))
	}
	if end < 0 {
		return "", fmt.Errorf("%w: unterminated string", ErrEdit)
	}
	return line[:valueAt] + quoted + value[end:], nil
}

// quoteTOML returns s as a TOML basic string.
func quoteTOML(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// SetConfigKey sets key in table section of the TOML file at path to the
// string value (see SetKey). It writes a temporary file beside the file
// (beside its target, for a symbolic link) with the same mode and owner,
// syncs it and renames it over the file, so the file is never half
// written.
func SetConfigKey(path, section, key, value string) error {
	target, err := filepath.EvalSymlinks(path)
	if err != nil {
		return fmt.Errorf("models: %w", err)
	}
	st, err := os.Stat(target)
	if err != nil {
		return fmt.Errorf("models: %w", err)
	}
	data, err := os.ReadFile(target)
	if err != nil {
		return fmt.Errorf("models: %w", err)
	}
	text, err := SetKey(string(data), section, key, value)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return writeAtomic(target, []byte(text), st)
}

// writeAtomic replaces the file at path with data, keeping the mode and
// owner of st.
func writeAtomic(path string, data []byte, st os.FileInfo) (err error) {
	dir, base := filepath.Split(path)
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("models: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("models: write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Chmod(st.Mode().Perm()); err != nil {
		return fmt.Errorf("models: %w", err)
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		uid, gid := int(sys.Uid), int(sys.Gid)
		if uid != os.Geteuid() || gid != os.Getegid() {
			if err := tmp.Chown(uid, gid); err != nil {
				return fmt.Errorf("models: keep the owner of %s: %w", path, err)
			}
		}
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("models: sync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("models: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("models: replace %s: %w", path, err)
	}
	return syncDir(filepath.Dir(path))
}
