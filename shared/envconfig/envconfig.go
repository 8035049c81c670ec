// Package envconfig reads a program's configuration from its environment
// in one place and reports every missing or malformed variable at once.
// It takes a getenv function, so only main packages touch os.Getenv.
package envconfig

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Reader collects values and problems. Use it once, then check Err.
type Reader struct {
	getenv   func(string) string
	problems []string
}

// New returns a Reader over getenv (os.Getenv in main).
func New(getenv func(string) string) *Reader { return &Reader{getenv: getenv} }

// Required returns the variable's value; an empty or unset variable is
// recorded as missing.
func (r *Reader) Required(name string) string {
	v := strings.TrimSpace(r.getenv(name))
	if v == "" {
		r.problems = append(r.problems, name+" is not set")
	}
	return v
}

// Optional returns the variable's value, or def when it is empty.
func (r *Reader) Optional(name, def string) string {
	if v := strings.TrimSpace(r.getenv(name)); v != "" {
		return v
	}
	return def
}

// URL returns an absolute http(s) URL, or def when unset.
func (r *Reader) URL(name, def string) string {
	v := r.Optional(name, def)
	if v == "" {
		return ""
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		r.problems = append(r.problems, fmt.Sprintf("%s=%q is not an http(s) URL", name, v))
	}
	return v
}

// Duration returns a Go duration ("30s"), or def when unset.
func (r *Reader) Duration(name string, def time.Duration) time.Duration {
	v := r.Optional(name, "")
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		r.problems = append(r.problems, fmt.Sprintf("%s=%q is not a positive duration such as 30s", name, v))
		return def
	}
	return d
}

// Int returns an integer in [min, max], or def when unset.
func (r *Reader) Int(name string, def, min, max int) int {
	v := r.Optional(name, "")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		r.problems = append(r.problems, fmt.Sprintf("%s=%q is not an integer from %d to %d", name, v, min, max))
		return def
	}
	return n
}

// OneOf returns the variable's value, which must be one of allowed, or
// def when unset.
func (r *Reader) OneOf(name, def string, allowed ...string) string {
	v := r.Optional(name, def)
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	r.problems = append(r.problems, fmt.Sprintf("%s=%q is not one of %s", name, v, strings.Join(allowed, ", ")))
	return def
}

// Err reports every problem found, or nil.
func (r *Reader) Err() error {
	if len(r.problems) == 0 {
		return nil
	}
	return errors.New("configuration: " + strings.Join(r.problems, "; "))
}
