package api

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// Error types, as the error shape's "type" field carries them.
const (
	typeInvalidRequest = "invalid_request_error"
	typeNotFound       = "not_found_error"
	typeRateLimit      = "rate_limit_error"
	typeServer         = "server_error"
	typeUnavailable    = "service_unavailable_error"
)

// apiError is the one shape every error response has:
//
//	{"error": {"message": "...", "type": "...", "param": "file", "code": "..."}}
//
// Param names the request field at fault, or is null.
type apiError struct {
	Status     int     `json:"-"`
	RetryAfter int     `json:"-"`
	Message    string  `json:"message"`
	Type       string  `json:"type"`
	Param      *string `json:"param"`
	Code       string  `json:"code"`
}

func (e *apiError) Error() string { return e.Message }

func badRequest(code, param, msg string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Type: typeInvalidRequest,
		Code: code, Param: optional(param), Message: msg}
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// writeError sends e as the response.
func writeError(w http.ResponseWriter, e *apiError) {
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	writeJSON(w, e.Status, struct {
		Error *apiError `json:"error"`
	}{e})
}

// writeJSON sends v as a JSON response with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}
