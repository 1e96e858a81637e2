package wire

import (
	"strconv"
	"strings"

	"github.com/ordercast/ordercast/internal/delivery"
)

// Stream is what a client asked of a server-sent event stream (GET /sse):
// its channels, in order, and the seq after which each resumed order
// channel continues.
type Stream struct {
	Channels []Channel
	Resume   map[string]int64
}

// ParseStream reads the channels parameter ("order:42,user:7") and the
// Last-Event-ID of a resuming client ("order:42=18,order:43=5", as the
// stream's ids are). Malformed names, more channels than max (the
// subscriptions of a connection, the user's feed among them), and a malformed cursor are EINVALID, answered before the stream.
// Entries of the cursor for channels not asked for are ignored.
func ParseStream(channels, lastEventID string, max int) (Stream, error) {
	var st Stream
	seen := make(map[string]bool)
	for name := range strings.SplitSeq(channels, ",") {
		if name == "" && channels == "" {
			break // no channels: the user's own feed only
		}
		ch, err := ParseChannel(name)
		if err != nil {
			return Stream{}, err
		}
		if seen[name] {
			continue
		}
		seen[name] = true
		st.Channels = append(st.Channels, ch)
	}
	if len(st.Channels) > max-1 { // the user's feed is one of them
		return Stream{}, delivery.Errorf(CodeInvalid, "channels: at most %d besides the user's own feed", max-1)
	}
	if lastEventID == "" {
		return st, nil
	}
	st.Resume = make(map[string]int64)
	for entry := range strings.SplitSeq(lastEventID, ",") {
		name, n, ok := strings.Cut(entry, "=")
		ch, err := ParseChannel(name)
		seq, serr := strconv.ParseInt(n, 10, 64)
		if !ok || err != nil || ch.Kind != KindOrder || serr != nil || seq < 0 || len(st.Resume) >= max {
			return Stream{}, delivery.Errorf(CodeInvalid, "Last-Event-ID: not a cursor of this server (order:{id}={seq},…)")
		}
		if seen[name] {
			st.Resume[name] = seq
		}
	}
	return st, nil
}
