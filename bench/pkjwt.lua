-- wrk script: client_credentials with private_key_jwt. Every request uses
-- its own pre-signed assertion (jti is single use), read from the file named
-- by MANDATE_ASSERTIONS; threads take disjoint slices of it.
local path = os.getenv("MANDATE_ASSERTIONS")
local counter = 0
local threads = {}

setup = function(thread)
  counter = counter + 1
  thread:set("tid", counter)
  table.insert(threads, thread)
end

local lines, pos, step
init = function(args)
  lines = {}
  for line in io.lines(path) do lines[#lines + 1] = line end
  pos = tid
  step = tonumber(os.getenv("MANDATE_THREADS") or "2")
end

local prefix = "grant_type=client_credentials" ..
  "&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer" ..
  "&client_assertion="
request = function()
  local a = lines[pos]
  pos = pos + step
  if a == nil then a = lines[1] end -- out of assertions: replays, refused
  return wrk.format("POST", nil, {["Content-Type"] = "application/x-www-form-urlencoded"}, prefix .. a)
end

local non2xx = 0
response = function(status, headers, body)
  if status ~= 200 then non2xx = non2xx + 1 end
end

done = function(summary, latency, requests)
  io.write(string.format(
    "RESULT requests=%d duration_us=%d errors=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.duration,
    summary.errors.connect + summary.errors.read + summary.errors.write +
      summary.errors.status + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
