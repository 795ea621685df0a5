package config

import (
	"encoding"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// EnvPrefix starts the names of environment variables that override keys:
// ASR_<SECTION>_<KEY>, upper case, for example ASR_WORKER_THREADS.
const EnvPrefix = "ASR_"

// EnvName returns the environment variable that overrides a dotted key.
func EnvName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// applyEnv sets every key for which environ holds an override. It returns
// the keys it set, each with the variable that set it.
func applyEnv(cfg *Config, environ []string) (map[string]string, error) {
	env := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, EnvPrefix) {
			env[k] = v
		}
	}
	set := make(map[string]string)
	if len(env) == 0 {
		return set, nil
	}
	root := reflect.ValueOf(cfg).Elem()
	var sections []string
	for i := 0; i < root.NumField(); i++ {
		section := root.Field(i)
		sname := root.Type().Field(i).Tag.Get("toml")
		sections = append(sections, sname)
		for j := 0; j < section.NumField(); j++ {
			key := sname + "." + section.Type().Field(j).Tag.Get("toml")
			name := EnvName(key)
			val, ok := env[name]
			if !ok {
				continue
			}
			delete(env, name)
			set[key] = name
			if err := setValue(section.Field(j), val); err != nil {
				return nil, &Error{Key: key,
					Err: fmt.Errorf("from environment %s: %w", name, err)}
			}
		}
	}
	// What is left names no key; within a known section it is a typo.
	for name := range env {
		for _, sname := range sections {
			if rest, ok := strings.CutPrefix(name, EnvName(sname)+"_"); ok {
				key := sname + "." + strings.ToLower(rest)
				return nil, &Error{Key: key, Err: fmt.Errorf("%w (from environment %s)",
					ErrUnknownKey, name)}
			}
		}
	}
	return set, nil
}

func setValue(field reflect.Value, val string) error {
	if u, ok := field.Addr().Interface().(encoding.TextUnmarshaler); ok {
		return u.UnmarshalText([]byte(val))
	}
	switch field.Kind() {
	case reflect.String:
		field.SetString(val)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(strings.TrimSpace(val), 10, 64)
		if err != nil {
			return fmt.Errorf("invalid integer %q", val)
		}
		field.SetInt(n)
	case reflect.Float64:
		f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil {
			return fmt.Errorf("invalid number %q", val)
		}
		field.SetFloat(f)
	case reflect.Slice:
		if field.Type().Elem().Kind() != reflect.String {
			return fmt.Errorf("cannot be set from the environment")
		}
		// A TOML array here is a mistake that would otherwise pass as
		// one item with brackets and quotes in it.
		if strings.HasPrefix(strings.TrimSpace(val), "[") {
			return fmt.Errorf("a list is written comma-separated, as in a,b, not %q", val)
		}
		var items []string
		for _, item := range strings.Split(val, ",") {
			if item = strings.TrimSpace(item); item != "" {
				items = append(items, item)
			}
		}
		field.Set(reflect.ValueOf(items))
	case reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(val))
		if err != nil {
			return fmt.Errorf("invalid boolean %q", val)
		}
		field.SetBool(b)
	default:
		return fmt.Errorf("cannot be set from the environment")
	}
	return nil
}
