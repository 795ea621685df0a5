// Package client is a typed HTTP client for asr-api's job endpoints: submit
// audio, follow a job's events, fetch its result, cancel or requeue it, and
// read the queue overview. It sends a bearer token when given one.
package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultTimeout bounds each request other than an upload or an event
// stream, whose length depends on the audio.
const DefaultTimeout = 30 * time.Second

// maxErrorBody bounds how much of an error response is read.
const maxErrorBody = 64 << 10

// ErrBadURL reports an API address that is not an absolute http(s) URL.
var ErrBadURL = errors.New("client: the API address must be an http:// or https:// URL")

// Client talks to one asr-api. It is safe for concurrent use.
type Client struct {
	base      *url.URL
	token     string
	http      *http.Client
	timeout   time.Duration
	eventIdle time.Duration
}

// Options configure a Client; the zero value is usable.
type Options struct {
	// Token is sent as "Authorization: Bearer <token>" when not empty.
	Token string
	// HTTP is the client used for requests; nil means a client of its own.
	HTTP *http.Client
	// Timeout bounds short requests; 0 means DefaultTimeout.
	Timeout time.Duration
	// EventIdle bounds the silence of an event stream; 0 means
	// DefaultEventIdle.
	EventIdle time.Duration
}

// New returns a Client for the API at base, for example
// "http://127.0.0.1:8080". A path in base prefixes every request path.
func New(base string, opts Options) (*Client, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: %q", ErrBadURL, base)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawQuery, u.Fragment = "", ""
	c := &Client{base: u, token: opts.Token, http: opts.HTTP, timeout: opts.Timeout,
		eventIdle: opts.EventIdle}
	if c.http == nil {
		c.http = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.eventIdle <= 0 {
		c.eventIdle = DefaultEventIdle
	}
	return c, nil
}

// Base returns the API address the Client was made with.
func (c *Client) Base() string { return c.base.String() }

// APIError is an error answer of the API, in its one error shape.
type APIError struct {
	// Status is the HTTP status code.
	Status  int
	Message string
	Type    string
	Code    string
	// Param names the request field at fault, or is empty.
	Param string
	// RetryAfter is the Retry-After header's wait, or 0.
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("asr-api answered %d", e.Status)
	if e.Code != "" {
		msg += " " + e.Code
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// url returns the address of an API path, already escaped, with an
// optional query.
func (c *Client) url(path string, query url.Values) string {
	u := *c.base
	u.RawPath = c.base.EscapedPath() + path
	u.Path, _ = url.PathUnescape(u.RawPath)
	if len(query) > 0 {
		u.RawQuery = query.Encode()
	}
	return u.String()
}

// newRequest builds a request with the token set.
func (c *Client) newRequest(ctx context.Context, method, path string, query url.Values,
	body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.url(path, query), body)
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: %w", method, path, err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return req, nil
}

// send performs req and turns a status outside 2xx into an *APIError. On
// success the caller owns the response body.
func (c *Client) send(req *http.Request) (*http.Response, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("client: %s %s: %w", req.Method, req.URL.Redacted(), err)
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	return nil, readAPIError(resp)
}

// readAPIError decodes an error answer; a body that is not the API's
// error shape becomes the message, shortened.
func readAPIError(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	e := &APIError{Status: resp.StatusCode}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		e.RetryAfter = time.Duration(s) * time.Second
	}
	var shape struct {
		Error *struct {
			Message string  `json:"message"`
			Type    string  `json:"type"`
			Param   *string `json:"param"`
			Code    string  `json:"code"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &shape) == nil && shape.Error != nil {
		e.Message, e.Type, e.Code = shape.Error.Message, shape.Error.Type, shape.Error.Code
		if shape.Error.Param != nil {
			e.Param = *shape.Error.Param
		}
		return e
	}
	text := strings.TrimSpace(string(body))
	if len(text) > 200 {
		text = text[:200] + "..."
	}
	if text == "" {
		text = http.StatusText(resp.StatusCode)
	}
	e.Message = text
	return e
}

// call performs a short request and decodes its JSON answer into out;
// raw, when not nil, receives the answer's bytes.
func (c *Client) call(ctx context.Context, method, path string, query url.Values,
	out any, raw *json.RawMessage) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := c.newRequest(ctx, method, path, query, nil)
	if err != nil {
		return err
	}
	resp, err := c.send(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("client: %s %s: read answer: %w", method, path, err)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("client: %s %s: decode answer: %w", method, path, err)
	}
	if raw != nil {
		*raw = body
	}
	return nil
}
