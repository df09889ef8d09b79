package clock

import (
	"context"
	"time"
)

// Retry calls fn until it returns nil, ctx ends or attempts calls have failed, waiting first,
// then twice that, and so on, on c between calls. It returns nil or the last error (ctx's
// error when ctx ended first). Devices use it for messages that nobody asks for again, such
// as a boot report lost to an ISO-TP timeout.
func Retry(ctx context.Context, c Clock, attempts int, first time.Duration, fn func(context.Context) error) error {
	wait := first
	var err error
	for i := 0; i < max(attempts, 1); i++ {
		if i > 0 {
			if serr := Sleep(ctx, c, wait); serr != nil {
				return serr
			}
			wait *= 2
		}
		if err = fn(ctx); err == nil || ctx.Err() != nil {
			return err
		}
	}
	return err
}
