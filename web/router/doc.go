// Package router holds an app's public port in front of its web dynos.
//
// Its contract: New starts nothing; Serve accepts on a listener the caller
// opened until Shutdown, which stops accepting, answers requests still
// waiting for a dyno at once and lets the others finish until its context
// ends. The router learns which dynos are up only through its Pool, and
// never starts, stops or restarts one; it reports through Config.Log (one
// Heroku router line per request, H-codes for failures) and never prints.
// Every request gets an answer: a dyno's response, or Heroku's error page
// with its H-code — never a dropped connection because a dyno came or went.
package router
