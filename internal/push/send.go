package push

import (
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	webpush "github.com/SherClockHolmes/webpush-go"

	"github.com/ordercast/ordercast/internal/delivery"
)

// sendJob is one message to one subscription.
type sendJob struct {
	sub      delivery.PushSubscription
	msg      Message
	urgent   bool
	attempts int // posts made so far
}

// maxRetryDelay is the longest a retry is scheduled ahead: a push service
// asking for more is given up on (the message would be stale, its TTL is
// an hour).
const maxRetryDelay = 10 * time.Minute

func (s *Service) sendLoop() {
	defer s.wg.Done()
	for {
		select {
		case <-s.stop:
			return
		case job := <-s.sends:
			s.send(job)
		}
	}
}

// send posts job's message once and acts on the answer: done, the
// subscription deleted (404, 410), a retry scheduled (429, 5xx, a network
// failure), or given up. Unless a retry is scheduled, the next message of
// its lane starts.
func (s *Service) send(job *sendJob) {
	if !s.attempt(job) {
		s.next(job)
	}
}

// attempt posts once and reports whether a retry was scheduled.
func (s *Service) attempt(job *sendJob) (retrying bool) {
	job.attempts++
	host := endpointHost(job.sub.Endpoint) // logs name the push service, never the endpoint (a capability)
	resp, err := s.post(job)
	if err != nil {
		switch {
		case s.ctx.Err() != nil:
			return false // closing
		case errors.Is(err, errRefusedAddress):
			s.stats.refused.Add(1)
			s.log.Warn().Str("host", host).Msg("push endpoint resolves to an address that is not public; not sent")
			return false
		}
		return s.retryLater(job, 0, host, describe(err))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		s.stats.sent.Add(1)
	case code == http.StatusNotFound || code == http.StatusGone:
		s.forget(job.sub, host, code)
	case code == http.StatusTooManyRequests || code >= 500:
		after, _ := retryAfter(resp.Header.Get("Retry-After"), time.Now())
		return s.retryLater(job, after, host, resp.Status)
	default:
		s.stats.failed.Add(1)
		s.log.Warn().Str("host", host).Int("status", code).Msg("push refused; not retried")
	}
	return false
}

func (s *Service) post(job *sendJob) (*http.Response, error) {
	payload, err := json.Marshal(job.msg)
	if err != nil {
		return nil, err // plain strings: cannot happen
	}
	u, err := url.Parse(job.sub.Endpoint)
	if err != nil {
		return nil, err
	}
	client := s.https
	if u.Scheme == "http" {
		if s.http == nil {
			return nil, errRefusedAddress // registered with PUSH_ALLOW_INSECURE, which is off now
		}
		client = s.http
	}
	urgency := webpush.UrgencyNormal
	if job.urgent {
		urgency = webpush.UrgencyHigh
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.Timeout)
	resp, err := webpush.SendNotificationWithContext(ctx, payload, &webpush.Subscription{
		Endpoint: job.sub.Endpoint,
		Keys:     webpush.Keys{P256dh: job.sub.P256dh, Auth: job.sub.Auth},
	}, &webpush.Options{
		HTTPClient: client,
		// webpush-go puts "mailto:" before a subject that is not an https URL.
		Subscriber:      strings.TrimPrefix(s.cfg.Subject, "mailto:"),
		Topic:           "order-" + job.msg.OrderID,
		TTL:             TTL,
		Urgency:         urgency,
		VAPIDPublicKey:  s.cfg.Keys.PublicKey(),
		VAPIDPrivateKey: s.cfg.Keys.privateString(),
	})
	if err != nil {
		cancel()
		return nil, err
	}
	// The body is read and closed by send, within the deadline: cancel
	// only then.
	resp.Body = bodyCloser{resp.Body, cancel}
	return resp, nil
}

// bodyCloser keeps a post's context until its body is closed.
type bodyCloser struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b bodyCloser) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// forget deletes a subscription the push service no longer knows.
func (s *Service) forget(sub delivery.PushSubscription, host string, code int) {
	ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
	defer cancel()
	err := s.cfg.Store.DeletePushSubscription(ctx, sub.UserID, sub.Endpoint)
	if err != nil && delivery.ErrorCode(err) != delivery.ENOTFOUND {
		s.stats.failed.Add(1)
		s.log.Warn().Err(err).Str("host", host).Msg("delete a push subscription that is gone")
		return
	}
	s.stats.gone.Add(1)
	s.log.Info().Str("host", host).Int("status", code).Str("user_id", sub.UserID.String()).Msg("push subscription gone; deleted")
}

// retryLater schedules job again after after (a backoff when 0), keeping
// its lane, and reports whether it did: it gives up when job had its
// attempts, the wait is too long or the schedule is full.
func (s *Service) retryLater(job *sendJob, after time.Duration, host, why string) bool {
	if after <= 0 {
		after = s.cfg.Backoff << (job.attempts - 1)
	}
	if job.attempts >= s.cfg.MaxAttempts || after > maxRetryDelay {
		s.stats.failed.Add(1)
		s.log.Warn().Str("host", host).Int("attempts", job.attempts).Str("error", why).Msg("push given up")
		return false
	}
	if !s.retry.add(job, time.Now().Add(after)) {
		s.stats.sendsDropped.Add(1)
		return false
	}
	s.stats.retried.Add(1)
	return true
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
		return time.Duration(min(n, int64(24*time.Hour/time.Second))) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// describe is a post's error without the URL that *url.Error quotes: an
// endpoint is a capability, kept out of logs.
func describe(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Op + ": " + ue.Err.Error()
	}
	return err.Error()
}

func endpointHost(endpoint string) string {
	if u, err := url.Parse(endpoint); err == nil {
		return u.Host
	}
	return ""
}

// retryLoop hands due retries to the senders.
func (s *Service) retryLoop() {
	defer s.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		wait := time.Hour
		if due, ok := s.retry.next(); ok {
			wait = max(time.Until(due), 0)
		}
		timer.Reset(wait)
		select {
		case <-s.stop:
			return
		case <-s.retry.wake:
		case <-timer.C:
		}
		for _, job := range s.retry.due(time.Now()) {
			s.start(job) // it kept its lane
		}
	}
}

// retrySchedule holds the messages to post again, by when, up to a bound.
type retrySchedule struct {
	mu   sync.Mutex
	max  int
	jobs retryHeap
	wake chan struct{} // an earlier retry was added
}

func (r *retrySchedule) init(max int) {
	r.max = max
	r.wake = make(chan struct{}, 1)
}

// add schedules job at at; false when the schedule is full.
func (r *retrySchedule) add(job *sendJob, at time.Time) bool {
	r.mu.Lock()
	if len(r.jobs) >= r.max {
		r.mu.Unlock()
		return false
	}
	heap.Push(&r.jobs, retryItem{at: at, job: job})
	first := r.jobs[0].job == job
	r.mu.Unlock()
	if first {
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
	return true
}

func (r *retrySchedule) next() (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.jobs) == 0 {
		return time.Time{}, false
	}
	return r.jobs[0].at, true
}

// due removes and returns the jobs due at now.
func (r *retrySchedule) due(now time.Time) []*sendJob {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*sendJob
	for len(r.jobs) > 0 && !r.jobs[0].at.After(now) {
		out = append(out, heap.Pop(&r.jobs).(retryItem).job)
	}
	return out
}

type retryItem struct {
	at  time.Time
	job *sendJob
}

type retryHeap []retryItem

func (h retryHeap) Len() int           { return len(h) }
func (h retryHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h retryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *retryHeap) Push(x any)        { *h = append(*h, x.(retryItem)) }
func (h *retryHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}
