-- wrk script: /forward-auth as nginx auth_request asks it (a GET with the
-- original request in X-Forwarded-*), with the access token of
-- MANDATE_TOKEN; with MANDATE_PROOFS (a file of DPoP proofs, one a line) the
-- token is DPoP-bound and each request takes the next fresh proof (one file
-- per wrk thread: MANDATE_PROOFS.<n>).
wrk.method = "GET"
wrk.headers["X-Forwarded-Method"] = "GET"
wrk.headers["X-Forwarded-Proto"] = "https"
wrk.headers["X-Forwarded-Host"] = "api.bench.example"
wrk.headers["X-Forwarded-Uri"] = "/orders/42?x=1"

local token = os.getenv("MANDATE_TOKEN") or ""
local proofs_file = os.getenv("MANDATE_PROOFS")
local proofs, next_proof = nil, 1
local threads, counter = {}, 0

setup = function(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

init = function(args)
  if proofs_file then
    proofs = {}
    for line in io.lines(proofs_file .. "." .. id) do proofs[#proofs + 1] = line end
    wrk.headers["Authorization"] = "DPoP " .. token
  else
    wrk.headers["Authorization"] = "Bearer " .. token
  end
end

request = function()
  if proofs then
    wrk.headers["DPoP"] = proofs[next_proof] or ""
    next_proof = next_proof + 1
  end
  return wrk.format()
end

done = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "result.lua")
