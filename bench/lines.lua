-- wrk script: POSTs that each carry a value of their own, one line of the
-- file named by MANDATE_LINES (a single-use value: a private_key_jwt
-- assertion, whose jti is spent; a token to introspect once; a DPoP proof),
-- the body being MANDATE_PREFIX followed by the line, or, with
-- MANDATE_LINE_HEADER set, the line that header's value and the body
-- MANDATE_PREFIX alone; with HTTP Basic when MANDATE_BASIC is set. Threads
-- take disjoint slices of the file (MANDATE_THREADS: wrk's -t). Out of
-- lines, a request repeats the first one.
local path = os.getenv("MANDATE_LINES")
local prefix = os.getenv("MANDATE_PREFIX") or ""
local basic = os.getenv("MANDATE_BASIC")
local line_header = os.getenv("MANDATE_LINE_HEADER")
local counter = 0

setup = function(thread)
  counter = counter + 1
  thread:set("tid", counter)
end

local lines, pos, step, headers
init = function(args)
  lines = {}
  for line in io.lines(path) do lines[#lines + 1] = line end
  pos = tid
  step = tonumber(os.getenv("MANDATE_THREADS") or "2")
  headers = {["Content-Type"] = "application/x-www-form-urlencoded"}
  if basic and basic ~= "" then headers["Authorization"] = "Basic " .. basic end
end

request = function()
  local a = lines[pos]
  pos = pos + step
  if a == nil then a = lines[1] end
  if line_header and line_header ~= "" then
    headers[line_header] = a
    return wrk.format("POST", nil, headers, prefix)
  end
  return wrk.format("POST", nil, headers, prefix .. a)
end

done = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "result.lua")
