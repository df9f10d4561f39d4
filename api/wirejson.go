package api

import (
	"fmt"
	"math"
	"reflect"
	"unsafe"

	jsoniter "github.com/json-iterator/go"
	"github.com/labstack/echo/v4"
	"github.com/modern-go/reflect2"
)

// wireJSON encodes the REST responses. It is encoding/json's behaviour but
// for one thing: a float64 that is NaN or ±Inf (a series with no finite
// sample, an interval at a level that reaches infinity) encodes as null
// instead of failing the whole response, so that bad data never answers
// 500. Prometheus' API registers its own jsoniter encoders the same way.
var wireJSON = func() jsoniter.API {
	// ConfigCompatibleWithStandardLibrary's settings, in a config of our
	// own: an extension registered on that shared one would change every
	// user of jsoniter in the process.
	api := jsoniter.Config{EscapeHTML: true, SortMapKeys: true, ValidateJsonRawMessage: true}.Froze()
	api.RegisterExtension(&finiteFloats{})
	return api
}()

// finiteFloats gives every float64 the encoder that writes null for a
// non-finite value.
type finiteFloats struct{ jsoniter.DummyExtension }

func (*finiteFloats) CreateEncoder(typ reflect2.Type) jsoniter.ValEncoder {
	if typ.Kind() == reflect.Float64 {
		return nullableFloat{}
	}
	return nil
}

type nullableFloat struct{}

func (nullableFloat) IsEmpty(ptr unsafe.Pointer) bool { return *(*float64)(ptr) == 0 }

func (nullableFloat) Encode(ptr unsafe.Pointer, s *jsoniter.Stream) {
	v := *(*float64)(ptr)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		s.WriteNil()
		return
	}
	s.WriteFloat64(v)
}

// writeJSON writes v as the response with status.
func writeJSON(c echo.Context, status int, v any) error {
	b, err := wireJSON.Marshal(v)
	if err != nil {
		ae := &apiError{kind: kindInternal, err: fmt.Errorf("cannot encode the response: %w", err)}
		return c.JSON(ae.status(), response{Status: statusFailed, ErrorType: ae.typ(), Error: ae.Error()})
	}
	return c.JSONBlob(status, b)
}
