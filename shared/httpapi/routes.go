package httpapi

import (
	"net/http"

	"mobilepush/shared/push"
)

// route is one endpoint of the API: the method and path pattern (Go's
// ServeMux syntax) and its handler. The table is the API's single source:
// the mux is built from it and the OpenAPI description is tested against
// it.
type route struct {
	method  string
	pattern string
	handle  func(h *Handler, w http.ResponseWriter, r *http.Request, c *call) error
}

// routes is every endpoint of the API. Order of handling in each:
// authenticate (401) -> load (tenant, id) (404) -> If-Match (412) ->
// body (400/413/422).
var routes = []route{
	{"POST", "/v1/apps", (*Handler).createApp},
	{"GET", "/v1/apps", (*Handler).listApps},
	{"GET", "/v1/apps/{id}", (*Handler).getApp},
	{"PATCH", "/v1/apps/{id}", (*Handler).updateApp},
	{"DELETE", "/v1/apps/{id}", (*Handler).deleteApp},
	{"PUT", "/v1/apps/{id}/{platform}", (*Handler).rotate},
	{"DELETE", "/v1/apps/{id}/{platform}", (*Handler).removePlatform},
	{"POST", "/v1/apps/{id}/{platform}/rollback", (*Handler).rollback},
	{"POST", "/v1/apps/{id}/apns/csr", (*Handler).createSigningRequest},
	{"GET", "/v1/apps/{id}/apns/csr", (*Handler).getSigningRequest},
	{"DELETE", "/v1/apps/{id}/apns/csr", (*Handler).discardSigningRequest},
	{"POST", "/v1/apps/{id}/validate", (*Handler).validateApp},
	{"POST", "/v1/apps/{id}/test-push", (*Handler).testPush},
	{"GET", "/v1/apps/{id}/audit", (*Handler).audit},
	{"POST", "/v1/validate", (*Handler).inspect},
}

// statusOf maps every push.Kind to its HTTP status: the one place this
// mapping lives (docs/ARCHITECTURE.md, Error model).
var statusOf = map[push.Kind]int{
	push.NotFound:           http.StatusNotFound,
	push.Invalid:            http.StatusBadRequest,
	push.Unprocessable:      http.StatusUnprocessableEntity,
	push.Conflict:           http.StatusConflict,
	push.PreconditionFailed: http.StatusPreconditionFailed,
	push.TooLarge:           http.StatusRequestEntityTooLarge,
	push.Unauthorized:       http.StatusUnauthorized,
	push.Transient:          http.StatusServiceUnavailable,
	push.Internal:           http.StatusInternalServerError,
}

// ValidateRoutes are the routes of the validate function: checking
// credentials (uploaded or stored) and test pushes. The register function
// serves the others.
var ValidateRoutes = map[string]bool{
	"POST /v1/validate":            true,
	"POST /v1/apps/{id}/validate":  true,
	"POST /v1/apps/{id}/test-push": true,
}

// IsValidateRoute reports whether route belongs to the validate function.
func IsValidateRoute(route string) bool { return ValidateRoutes[route] }

// IsRegisterRoute reports whether route belongs to the register function.
func IsRegisterRoute(route string) bool { return !ValidateRoutes[route] }

// Routes returns every route of the API as "METHOD /pattern", in the
// order of routes.go (for the template's checks).
func Routes() []string {
	out := make([]string, len(routes))
	for i, rt := range routes {
		out[i] = rt.method + " " + rt.pattern
	}
	return out
}
