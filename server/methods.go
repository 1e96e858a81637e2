package server

import (
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/ordercast/ordercast/internal/delivery"
)

// routeMethods maps each route pattern ("/api/v1/orders/:id") to the
// methods it answers, for the Allow header of 405 and OPTIONS answers.
type routeMethods map[string][]string

// methodsOf reads the patterns of every route mounted on app.
func methodsOf(app *fiber.App) routeMethods {
	rm := routeMethods{}
	for _, r := range app.GetRoutes(true) {
		if !slices.Contains(rm[r.Path], r.Method) {
			rm[r.Path] = append(rm[r.Path], r.Method)
		}
	}
	for _, methods := range rm {
		slices.Sort(methods)
	}
	return rm
}

// allowed lists the methods of the route that path matches, nil if none.
// Like Fiber's router (not CaseSensitive, not StrictRouting), it ignores
// case and a trailing slash.
func (rm routeMethods) allowed(path string) []string {
	path = strings.ToLower(path)
	if len(path) > 1 {
		path = strings.TrimSuffix(path, "/")
	}
	var out []string
	for pattern, methods := range rm {
		if patternMatches(strings.ToLower(pattern), path) {
			out = append(out, methods...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// patternMatches matches Fiber's route syntax as this app uses it: ":name"
// is one non-empty segment and a final "*" is the rest of the path.
func patternMatches(pattern, path string) bool {
	ps, xs := strings.Split(pattern, "/"), strings.Split(path, "/")
	for i, p := range ps {
		if p == "*" && i == len(ps)-1 {
			return true
		}
		if i >= len(xs) {
			return false
		}
		if strings.HasPrefix(p, ":") {
			if xs[i] == "" {
				return false
			}
			continue
		}
		if p != xs[i] {
			return false
		}
	}
	return len(ps) == len(xs)
}

// noRoute answers what no route took: OPTIONS on a known path with its
// Allow list, another method on it 405 method_not_allowed with Allow, and
// an unknown path 404.
func noRoute(rm routeMethods) fiber.Handler {
	return func(c *fiber.Ctx) error {
		methods := rm.allowed(c.Path())
		if len(methods) == 0 {
			return delivery.Errorf(delivery.ENOTFOUND, "no such route")
		}
		allow := strings.Join(append(methods, fiber.MethodOptions), ", ")
		c.Set(fiber.HeaderAllow, allow)
		if c.Method() == fiber.MethodOptions {
			return c.SendStatus(fiber.StatusNoContent)
		}
		return delivery.Errorf(delivery.EMETHOD, "%s is not allowed here; allowed: %s", c.Method(), allow)
	}
}
