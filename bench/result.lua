-- The RESULT line every wrk script of the benchmark ends with (bench/run.sh
-- and bench/steps.sh read it): requests, duration, errors (connect, read,
-- write, a status other than 2xx/3xx, timeout) and latency percentiles, µs.
-- A script loads it as: done = dofile(<its own directory> .. "result.lua")
return function(summary, latency, requests)
  io.write(string.format(
    "RESULT requests=%d duration_us=%d errors=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.duration,
    summary.errors.connect + summary.errors.read + summary.errors.write +
      summary.errors.status + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
