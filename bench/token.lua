-- wrk script: POST client_credentials to /token with client_secret_basic.
-- Environment: MANDATE_BASIC (base64 of id:secret), MANDATE_BODY.
wrk.method = "POST"
wrk.body = os.getenv("MANDATE_BODY") or "grant_type=client_credentials"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic " .. (os.getenv("MANDATE_BASIC") or "")

local non2xx = 0
response = function(status, headers, body)
  if status ~= 200 then non2xx = non2xx + 1 end
end

done = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "result.lua")
