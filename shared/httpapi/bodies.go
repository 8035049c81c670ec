package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"mobilepush/shared/certinfo"
	"mobilepush/shared/push"
	"mobilepush/shared/registry"
)

// fieldError is a client error about one named field of the body.
type fieldError struct {
	field string
	err   error
}

func (e *fieldError) Error() string { return e.field + ": " + e.err.Error() }
func (e *fieldError) Unwrap() error { return e.err }

func badField(field, format string, args ...any) error {
	return &fieldError{field: field, err: push.Errorf("httpapi", push.Invalid, "%s: %s", field, fmt.Sprintf(format, args...))}
}

// readBody reads the whole (capped) body: 413 past the cap.
func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(r.Body)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, push.Errorf("httpapi", push.TooLarge, "the request body exceeds %d bytes", tooBig.Limit)
	}
	if err != nil {
		return nil, push.E("httpapi", push.Invalid, fmt.Errorf("read body: %w", err)).WithMsg("the request body could not be read")
	}
	return b, nil
}

// decodeJSON decodes a JSON object body into v strictly: unknown fields
// and wrong types are 400 naming the field; trailing data is refused.
func decodeJSON(r *http.Request, v any) error {
	b, err := readBody(r)
	if err != nil {
		return err
	}
	return decodeJSONBytes(b, v)
}

// decodeJSONBytes is decodeJSON of a body already read.
func decodeJSONBytes(b []byte, v any) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return push.Errorf("httpapi", push.Invalid, "the request body is empty; send a JSON object")
	}
	if err := checkFields(b, reflect.TypeOf(v).Elem(), ""); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) {
			return badField(typ.Field, "must be a JSON %s", jsonKind(typ.Type))
		}
		return push.Errorf("httpapi", push.Invalid, "the request body is not valid JSON")
	}
	if dec.More() {
		return push.Errorf("httpapi", push.Invalid, "the request body holds more than one JSON value")
	}
	return nil
}

func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int64, reflect.Float64:
		return "number"
	case reflect.Struct, reflect.Map:
		return "object"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return t.Kind().String()
}

// checkFields refuses object keys that t (a struct) does not declare,
// recursively, naming the first unknown field with its path.
func checkFields(data []byte, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil {
		if path == "" {
			var syn *json.SyntaxError
			if errors.As(err, &syn) {
				return push.Errorf("httpapi", push.Invalid, "the request body is not valid JSON (syntax error at byte %d)", syn.Offset)
			}
			return push.Errorf("httpapi", push.Invalid, "the request body must be a JSON object")
		}
		return nil // not an object: the decoder names the type error
	}
	known := map[string]reflect.StructField{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "" && name != "-" {
			known[name] = f
		}
	}
	for k, raw := range obj {
		f, ok := known[k]
		if !ok {
			return badField(path+k, "unknown field")
		}
		if err := checkFields(raw, f.Type, path+k+"."); err != nil {
			return err
		}
	}
	return nil
}

// appBody is the JSON body of POST /v1/apps (and its multipart twin).
type appBody struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Enabled     *bool     `json:"enabled"`
	Environment string    `json:"environment"`
	APNs        *apnsBody `json:"apns"`
	FCM         *fcmBody  `json:"fcm"`
}

type apnsBody struct {
	BundleID  string  `json:"bundle_id"`
	P12Base64 string  `json:"p12_base64"`
	Password  *string `json:"password"`
	PEM       string  `json:"pem"`
	CerBase64 string  `json:"cer_base64"`
	P8        string  `json:"p8"`
	KeyID     string  `json:"key_id"`
	TeamID    string  `json:"team_id"`
}

type fcmBody struct {
	ServiceAccountJSON string `json:"service_account_json"`
}

func (b *apnsBody) upload(prefix string) (*registry.APNsUpload, error) {
	if b == nil {
		return nil, nil
	}
	up := &registry.APNsUpload{BundleID: b.BundleID, KeyID: b.KeyID, TeamID: b.TeamID, P8: []byte(b.P8), PEM: []byte(b.PEM)}
	if b.P12Base64 != "" {
		p12, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b.P12Base64))
		if err != nil {
			return nil, badField(prefix+"p12_base64", "is not valid base64")
		}
		up.P12 = p12
	}
	if b.CerBase64 != "" {
		cer, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b.CerBase64))
		if err != nil {
			return nil, badField(prefix+"cer_base64", "is not valid base64")
		}
		up.Cer = cer
	}
	if b.Password != nil {
		up.Password, up.HasPassword = push.NewRedacted([]byte(*b.Password)), true
	}
	return up, nil
}

func (b *fcmBody) upload() *registry.FCMUpload {
	if b == nil {
		return nil
	}
	return &registry.FCMUpload{ServiceAccountJSON: []byte(b.ServiceAccountJSON)}
}

func environment(field, s string) (push.Environment, error) {
	if s == "" {
		return "", nil
	}
	e, err := push.ParseEnvironment(s)
	if err != nil {
		return "", badField(field, "must be %q or %q", push.Production, push.Sandbox)
	}
	return e, nil
}

// isMultipart reports whether r carries a multipart/form-data body.
func isMultipart(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt == "multipart/form-data"
}

// multipartFields are the form fields an upload form may send; file parts
// carry the files (apns.p12, apns.pem, apns.cer, apns.p8,
// fcm.service_account_json).
var multipartFields = map[string]bool{
	"id": true, "name": true, "description": true, "enabled": true, "environment": true,
	"apns.bundle_id": true, "apns.p12": true, "apns.password": true, "apns.pem": true, "apns.cer": true, "apns.p8": true, "apns.key_id": true, "apns.team_id": true,
	"fcm.service_account_json": true,
}

// decodeMultipart reads a browser form into the JSON body shape. Files
// are read in full (the body cap bounds them); text fields work too.
func decodeMultipart(r *http.Request) (*appBody, error) {
	_, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || params["boundary"] == "" {
		return nil, push.Errorf("httpapi", push.Invalid, "multipart/form-data without a boundary")
	}
	mr := multipart.NewReader(r.Body, params["boundary"])
	vals := map[string][]byte{}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, push.Errorf("httpapi", push.TooLarge, "the request body exceeds %d bytes", tooBig.Limit)
		}
		if err != nil {
			return nil, push.Errorf("httpapi", push.Invalid, "malformed multipart/form-data body")
		}
		name := part.FormName()
		if !multipartFields[name] {
			return nil, badField(name, "unknown field")
		}
		if _, dup := vals[name]; dup {
			return nil, badField(name, "given twice")
		}
		b, err := io.ReadAll(io.LimitReader(part, certinfo.MaxInputSize+1))
		if errors.As(err, &tooBig) {
			return nil, push.Errorf("httpapi", push.TooLarge, "the request body exceeds %d bytes", tooBig.Limit)
		}
		if err != nil {
			return nil, push.Errorf("httpapi", push.Invalid, "malformed multipart/form-data body")
		}
		vals[name] = b
	}
	str := func(k string) string { return strings.TrimSpace(string(vals[k])) }
	body := &appBody{ID: str("id"), Name: str("name"), Description: str("description"), Environment: str("environment")}
	if v, ok := vals["enabled"]; ok {
		en := strings.TrimSpace(string(v)) == "on" // an HTML checkbox
		if !en {
			var err error
			if en, err = strconv.ParseBool(strings.TrimSpace(string(v))); err != nil {
				return nil, badField("enabled", "must be true or false")
			}
		}
		body.Enabled = &en
	}
	hasAPNs := false
	for k, v := range vals { // a browser sends every input, empty or not
		hasAPNs = hasAPNs || strings.HasPrefix(k, "apns.") && k != "apns.password" && len(bytes.TrimSpace(v)) > 0
	}
	if hasAPNs {
		a := &apnsBody{BundleID: str("apns.bundle_id"), P8: string(vals["apns.p8"]), KeyID: str("apns.key_id"), TeamID: str("apns.team_id")}
		if p12, ok := vals["apns.p12"]; ok && len(p12) > 0 {
			a.P12Base64 = base64.StdEncoding.EncodeToString(p12)
		}
		if cer, ok := vals["apns.cer"]; ok && len(cer) > 0 {
			a.CerBase64 = base64.StdEncoding.EncodeToString(cer)
		}
		a.PEM = string(vals["apns.pem"])
		if pw, ok := vals["apns.password"]; ok {
			s := string(pw)
			a.Password = &s
		}
		body.APNs = a
	}
	if sa, ok := vals["fcm.service_account_json"]; ok && len(bytes.TrimSpace(sa)) > 0 {
		body.FCM = &fcmBody{ServiceAccountJSON: string(sa)}
	}
	return body, nil
}

// decodeApp reads an app body as JSON or multipart.
func decodeApp(r *http.Request) (*appBody, error) {
	if isMultipart(r) {
		return decodeMultipart(r)
	}
	var b appBody
	if err := decodeJSON(r, &b); err != nil {
		return nil, err
	}
	return &b, nil
}
