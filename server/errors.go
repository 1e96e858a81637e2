package server

import (
	"context"
	"errors"

	"github.com/gofiber/fiber/v2"
	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/limits"
)

// statusOf is the one table from domain error codes to HTTP statuses.
var statusOf = map[string]int{
	delivery.EINVALID:           fiber.StatusBadRequest,
	delivery.EUNAUTHORIZED:      fiber.StatusUnauthorized,
	delivery.EFORBIDDEN:         fiber.StatusForbidden,
	delivery.ENOTFOUND:          fiber.StatusNotFound,
	delivery.ECONFLICT:          fiber.StatusConflict,
	delivery.EEMAILTAKEN:        fiber.StatusConflict,
	delivery.EINVALIDTRANSITION: fiber.StatusConflict,
	delivery.EALREADYASSIGNED:   fiber.StatusConflict,
	delivery.ETOOMANYACTIVE:     fiber.StatusConflict,
	delivery.ETOKENREUSED:       fiber.StatusUnauthorized,
	delivery.EPRECONDITION:      fiber.StatusPreconditionFailed,
	delivery.ETOOLARGE:          fiber.StatusRequestEntityTooLarge,
	delivery.EMETHOD:            fiber.StatusMethodNotAllowed,
	delivery.EMEDIATYPE:         fiber.StatusUnsupportedMediaType,
	delivery.EUNPROCESSABLE:     fiber.StatusUnprocessableEntity,
	delivery.EIDEMPOTENCY:       fiber.StatusUnprocessableEntity,
	delivery.ECHATCLOSED:        fiber.StatusUnprocessableEntity,
	delivery.ERATELIMITED:       fiber.StatusTooManyRequests,
	delivery.ETOOMANYCONNS:      fiber.StatusTooManyRequests,
	delivery.EUNAVAILABLE:       fiber.StatusServiceUnavailable,
	delivery.EINTERNAL:          fiber.StatusInternalServerError,
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// writeError answers with the API's one error shape. Internal errors are
// logged with the request id and answered with a generic message.
func writeError(c *fiber.Ctx, err error) error {
	var fe *fiber.Error
	if errors.As(err, &fe) {
		err = fiberError(fe)
	}
	if errors.Is(err, context.DeadlineExceeded) && c.UserContext().Err() != nil {
		// The request's own deadline passed (an overloaded server): the
		// client may retry, as for any other overload.
		requestLogger(c).Warn().Err(err).Msg("request timed out")
		c.Set(fiber.HeaderRetryAfter, "1")
		err = delivery.Errorf(delivery.EUNAVAILABLE, "the server took too long to answer; retry shortly")
	}
	code := delivery.ErrorCode(err)
	status, ok := statusOf[code]
	if !ok {
		status = fiber.StatusInternalServerError
	}
	if status == fiber.StatusInternalServerError {
		requestLogger(c).Error().Err(err).Msg("internal error")
	}
	var refusal *limits.Refusal
	if errors.As(err, &refusal) {
		c.Set(fiber.HeaderRetryAfter, refusal.RetryAfter())
	}
	return c.Status(status).JSON(errorBody{errorDetail{Code: code, Message: delivery.ErrorMessage(err)}})
}

// fiberError turns errors raised by Fiber itself (unknown route, body too
// large, bad method) into domain errors.
func fiberError(fe *fiber.Error) error {
	switch fe.Code {
	case fiber.StatusNotFound:
		return delivery.Errorf(delivery.ENOTFOUND, "no such route")
	case fiber.StatusRequestEntityTooLarge:
		return delivery.Errorf(delivery.ETOOLARGE, "request body too large")
	case fiber.StatusBadRequest:
		return delivery.Errorf(delivery.EINVALID, "bad request")
	case fiber.StatusUnauthorized:
		return delivery.Errorf(delivery.EUNAUTHORIZED, "unauthorized")
	case fiber.StatusTooManyRequests:
		return delivery.Errorf(delivery.ERATELIMITED, "too many requests")
	}
	if fe.Code >= 500 {
		return fe
	}
	return delivery.Errorf(delivery.EINVALID, "%s", fe.Message)
}
