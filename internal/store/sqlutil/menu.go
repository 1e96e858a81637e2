package sqlutil

import "github.com/ordercast/ordercast/internal/delivery"

// MenuLimit is the page size a store applies to a ListMenu of limit.
func MenuLimit(limit int) int {
	if limit <= 0 || limit > delivery.MaxMenuItems {
		return delivery.MaxMenuItems
	}
	return limit
}

// MenuFull is the error of an insert into a menu that holds
// delivery.MaxMenuItems items.
func MenuFull() error {
	return delivery.Errorf(delivery.EUNPROCESSABLE, "menu: a restaurant has at most %d items", delivery.MaxMenuItems)
}
