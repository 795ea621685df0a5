package api

import (
	"crypto/subtle"
	"net/http"
	"strings"
)

// requireToken lets a request through when it carries one of the
// configured bearer tokens, or when none are configured.
func (s *Server) requireToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(s.opts.Tokens) == 0 || s.validToken(r.Header.Get("Authorization")) {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="asr-server"`)
		writeError(w, &apiError{Status: http.StatusUnauthorized, Type: typeInvalidRequest,
			Code: "invalid_api_key",
			Message: "a valid API key is required: send it as " +
				`"Authorization: Bearer <key>"`})
	})
}

// validToken compares the header's token with every configured one in
// constant time, so that timing reveals nothing about them.
func (s *Server) validToken(header string) bool {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	token = strings.TrimSpace(token)
	match := 0
	for _, t := range s.opts.Tokens {
		match |= subtle.ConstantTimeCompare([]byte(token), []byte(t))
	}
	return match == 1
}
