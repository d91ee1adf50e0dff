package azure

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
)

// FieldError is a bad input, named by the field it came from so that a caller (the Terraform
// provider) can attach it to an attribute path. Field uses the provider's attribute names, dotted
// for nested ones ("probe.port").
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

func fieldErrorf(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// ConflictError says that a name, priority or port is already taken by a rule or probe this
// package does not own; Other names it so the user can find it in the portal.
type ConflictError struct {
	Field string // the input that collides, e.g. "priority"
	Other string // the other rule or probe's name
	Msg   string
	Cause error // Azure's answer when it refused the write (412), else nil
}

func (e *ConflictError) Error() string { return e.Field + ": " + e.Msg }

func (e *ConflictError) Unwrap() error { return e.Cause }

// statusCode returns the HTTP status of an Azure response error, or 0 for anything else.
func statusCode(err error) int {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

func isNotFound(err error) bool { return statusCode(err) == http.StatusNotFound }

func isPreconditionFailed(err error) bool { return statusCode(err) == http.StatusPreconditionFailed }
