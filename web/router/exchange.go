package router

import "time"

// exchange is what the router learns about one request as it goes; the
// router line is written from it at the end. Only the request's goroutine
// touches it.
type exchange struct {
	start     time.Time
	requestID string
	fwd       string // X-Forwarded-For as sent to the dyno

	up        *upstream // the dyno tried last, nil if none was
	connected time.Time // when a connection to up was obtained; zero if never
	failed    time.Time // when the last attempt on a dyno failed
	code      hcode     // router error, if any
	detail    string    // more words for the log line and error page (limits)
	status    int       // the dyno's response status, 0 if none
	bytes     int64     // response body bytes relayed from the dyno
	end       time.Time // when the router line was written

	fc *fastConn // the client's connection, if the router reads it itself (server.go)
}

// fail records the first error code: later ones are consequences.
func (x *exchange) fail(c hcode) {
	if x.code == none {
		x.code = c
	}
}
