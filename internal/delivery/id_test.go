package delivery_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/ordercast/ordercast/internal/delivery"
)

func TestIDJSON(t *testing.T) {
	b, err := json.Marshal(struct {
		ID delivery.ID `json:"id"`
	}{42})
	if err != nil || string(b) != `{"id":"42"}` {
		t.Fatalf("marshal = %s, %v", b, err)
	}
	for in, want := range map[string]delivery.ID{`"42"`: 42, `42`: 42, `null`: 0} {
		var id delivery.ID
		if err := json.Unmarshal([]byte(in), &id); err != nil || id != want {
			t.Errorf("%s: got %d, %v", in, id, err)
		}
	}
	for _, in := range []string{`"abc"`, `0`, `-1`, `"-5"`, `1.5`, `"9223372036854775808"`, `true`, `""`, `"+2"`, `"02"`, `"007"`, `"0"`} {
		var v struct {
			RestaurantID delivery.ID `json:"restaurant_id"`
		}
		err := json.Unmarshal([]byte(`{"restaurant_id":`+in+`}`), &v)
		var typeErr *json.UnmarshalTypeError
		if !errors.As(err, &typeErr) || typeErr.Field != "restaurant_id" {
			t.Errorf("%s: got %v, want a type error naming restaurant_id", in, err)
		}
	}
}
